"""Streaming PyTorch datasets: synthetic crops rendered on the fly in worker processes, nothing on disk.

Batches are numbered and worker k renders batches k, k+W, k+2W...; the DataLoader takes them round-robin, so
the stream is the same whatever the number of workers and can restart at any batch (resuming training).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from platelab.predict.charset import Charset
from platelab.predict.preprocess import preprocess_crops
from platelab.synth.config import SynthConfig
from platelab.synth.crops import CropGenerator
from platelab.synth.style import PlateStyle


def encode_batch(texts: Sequence[str], charset: Charset) -> np.ndarray:
    return np.stack([charset.encode(t) for t in texts])


class NumberedBatches(IterableDataset[tuple[torch.Tensor, ...]]):
    """Batches start_batch, start_batch + 1, ... (to end_batch), each rendered from its number alone."""

    start_batch: int
    end_batch: int | None

    def render_batch(self, batch: int) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        batch = self.start_batch + worker
        while self.end_batch is None or batch < self.end_batch:
            yield self.render_batch(batch)
            batch += workers


class SyntheticCropBatches(NumberedBatches):
    """Yields (images (B, 1, H, W) float32, targets (B, slots) int64) for batches start_batch, start_batch+1, ..."""

    def __init__(
        self,
        styles: Sequence[PlateStyle],
        charset: Charset,
        batch_size: int,
        seed: int,
        cfg: SynthConfig | None = None,
        start_batch: int = 0,
        end_batch: int | None = None,
    ) -> None:
        super().__init__()
        self.generator = CropGenerator(styles, cfg, seed)
        self.charset = charset
        self.batch_size = batch_size
        self.start_batch = start_batch
        self.end_batch = end_batch

    def render_batch(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        first = batch * self.batch_size
        crops = [self.generator.sample(first + i) for i in range(self.batch_size)]
        images = preprocess_crops([c.image for c in crops])
        return torch.from_numpy(images), torch.from_numpy(encode_batch([c.text for c in crops], self.charset))
