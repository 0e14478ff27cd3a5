"""The recognizer's training loss and batch accuracy, for either head (slots or CTC)."""

from __future__ import annotations

import torch
from torch import nn

from platelab.predict.charset import Charset


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
            loss: torch.Tensor = self.slots(logits.reshape(-1, self.charset.classes), targets.reshape(-1))
            return loss
        log_probs = torch.log_softmax(logits.float(), -1).transpose(0, 1)  # (frames, N, classes)
        is_char = targets != self.charset.pad_index
        lengths = is_char.sum(1)
        frames = torch.full((logits.shape[0],), logits.shape[1], dtype=torch.long)
        loss = self.ctc(log_probs, targets[is_char], frames, lengths.cpu())
        return loss


def ctc_greedy_reads(logits: torch.Tensor, blank: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy CTC readings on the logits' device: (N, width) classes padded with blank, and each reading's length
    (which may exceed width). As decode_ctc reads them: best class per frame, repeats merged, blanks dropped."""
    best = logits.argmax(-1)  # (N, frames)
    starts_run = torch.ones_like(best, dtype=torch.bool)
    starts_run[:, 1:] = best[:, 1:] != best[:, :-1]
    kept = starts_run & (best != blank)
    # A stable sort on "not kept" moves the kept classes to the front in their order.
    order = torch.sort((~kept).to(torch.uint8), dim=1, stable=True).indices
    read = torch.gather(torch.where(kept, best, torch.full_like(best, blank)), 1, order)
    if read.shape[1] < width:
        read = torch.nn.functional.pad(read, (0, width - read.shape[1]), value=blank)
    return read[:, :width], kept.sum(1)


@torch.no_grad()
def exact_hits(logits: torch.Tensor, targets: torch.Tensor, charset: Charset, head: str) -> float:
    """Share of the batch read exactly (greedy decoding), computed where the logits are: decoding each reading on
    the CPU took longer than a training step on a GPU."""
    if head != "ctc":
        return (logits.argmax(-1) == targets).all(1).float().mean().item()
    read, lengths = ctc_greedy_reads(logits, charset.pad_index, targets.shape[1])
    exact = (read == targets).all(1) & (lengths <= targets.shape[1])
    return exact.float().mean().item()
