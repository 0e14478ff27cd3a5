"""Routes 1 and 2 share this: a small 28 x 28 character CNN, its training, and its score on cut plates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from references.study.segment import CHAR_SIDE, segment_characters


class CharNet(nn.Module):
    """Two conv blocks and a small classifier: the classic MNIST network shape."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classify = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.25),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(x))


def train_classifier(
    images: np.ndarray, labels: np.ndarray, classes: int, steps: int, batch: int, seed: int
) -> CharNet:
    """images (N, 28, 28) float32 in [0, 1], labels (N,) class indices; Adam on random mini-batches."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = CharNet(classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(steps):
        picks = rng.integers(0, len(images), batch)
        x = torch.from_numpy(images[picks][:, None])
        loss = loss_fn(model(x), torch.from_numpy(labels[picks].astype(np.int64)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@torch.no_grad()
def classify(model: CharNet, chars: Sequence[np.ndarray], alphabet: str) -> str:
    if not chars:
        return ""
    batch = torch.from_numpy(np.stack(chars).reshape(-1, 1, CHAR_SIDE, CHAR_SIDE))
    return "".join(alphabet[i] for i in model(batch).argmax(1).tolist())


@dataclass(frozen=True)
class SegmentedScores:
    """segmented: share of all plates cut into as many pieces as their text has characters.
    char_acc: over the characters of those plates that are in the alphabet (digits for MNIST).
    plate_acc: over the plates written entirely in the alphabet; a plate cut wrongly counts as misread."""

    plates: int
    segmented: float
    chars: int
    char_acc: float
    plate_acc: float


def score_segmented(
    model: CharNet, alphabet: str, images: Sequence[np.ndarray], texts: Sequence[str]
) -> SegmentedScores:
    cut = right_chars = total_chars = in_scope = right_plates = 0
    for image, text in zip(images, texts):
        whole = bool(text) and set(text) <= set(alphabet)
        in_scope += whole
        chars = segment_characters(image)
        if len(chars) != len(text):
            continue
        cut += 1
        read = classify(model, chars, alphabet)
        scored = [(r, t) for r, t in zip(read, text) if t in alphabet]
        right_chars += sum(r == t for r, t in scored)
        total_chars += len(scored)
        right_plates += whole and read == text
    return SegmentedScores(
        plates=in_scope,
        segmented=cut / max(len(texts), 1),
        chars=total_chars,
        char_acc=right_chars / max(total_chars, 1),
        plate_acc=right_plates / max(in_scope, 1),
    )
