"""The recognizer's training loss and batch accuracy, for either head (slots or CTC)."""

from __future__ import annotations

import torch
from torch import nn

from platelab.predict.charset import Charset
from platelab.predict.decode import decode


class RecognitionLoss(nn.Module):
    """Cross-entropy per slot for a slots head; CTC over the frames for a ctc head (the pad class is blank)."""

    def __init__(self, charset: Charset, head: str, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.charset = charset
        self.head = head
        self.slots = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.ctc = nn.CTCLoss(blank=charset.pad_index, zero_infinity=True)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.head != "ctc":
            return self.slots(logits.reshape(-1, self.charset.classes), targets.reshape(-1))
        log_probs = torch.log_softmax(logits.float(), -1).transpose(0, 1)  # (frames, N, classes)
        is_char = targets != self.charset.pad_index
        lengths = is_char.sum(1)
        frames = torch.full((logits.shape[0],), logits.shape[1], dtype=torch.long)
        return self.ctc(log_probs, targets[is_char], frames, lengths.cpu())


def target_texts(targets: torch.Tensor, charset: Charset) -> list[str]:
    return ["".join(charset.char(int(c)) for c in row) for row in targets.cpu()]


@torch.no_grad()
def exact_hits(logits: torch.Tensor, targets: torch.Tensor, charset: Charset, head: str) -> float:
    """Share of the batch read exactly (greedy decoding)."""
    if head != "ctc":
        return (logits.argmax(-1) == targets).all(1).float().mean().item()
    read = decode(torch.softmax(logits.float(), -1).cpu().numpy(), charset, head)
    truth = target_texts(targets, charset)
    return sum(r.text == t for r, t in zip(read, truth)) / max(len(truth), 1)
