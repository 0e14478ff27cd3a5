"""A small CNN plate recognizer: a VGG-like backbone and one of two heads.

- "ctc": two lines of column-wise predictions (top line, then bottom line) read with CTC. A character is
  predicted where it is printed, so reading does not depend on counting characters from the plate's left edge;
  a one-row plate is read on the first line with the second blank, a two-row plate on both.
- "slots": the whole feature map flattened into a fixed number of character slots (the first shipped model).
Text printed around the characters (state names, slogans) is ignored by learning, not by rules.
"""

from __future__ import annotations

import torch
from torch import nn

from platelab.models.efficientnet_lite import LiteBackbone
from platelab.predict.charset import Charset
from platelab.predict.preprocess import INPUT_SIZE


def conv_bn(
    cin: int, cout: int, kernel: int = 3, stride: int | tuple[int, int] = 1, groups: int = 1
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class PlateBackbone(nn.Module):
    """(N, 1, 64, 128) -> (N, channels, 4, 16) features.

    Plain 3x3 convolutions: on a CPU they train about twice as fast as depthwise-separable blocks of the same
    accuracy (depthwise backward passes are slow in PyTorch) and onnxruntime runs them well.
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 48, 64, 96, 96, 128)) -> None:
        super().__init__()
        w = widths
        self.layers = nn.Sequential(
            conv_bn(1, w[0], 3, 2),  # 32 x 64
            conv_bn(w[0], w[1]),
            nn.MaxPool2d(2),  # 16 x 32
            conv_bn(w[1], w[2]),
            conv_bn(w[2], w[3]),
            nn.MaxPool2d(2),  # 8 x 16
            conv_bn(w[3], w[4]),
            conv_bn(w[4], w[5]),
            nn.MaxPool2d((2, 1)),  # 4 x 16
            conv_bn(w[5], w[6]),
        )
        self.channels = w[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = self.layers(x)
        return features


class SlotHead(nn.Module):
    """Features -> per-slot class logits (N, slots, classes)."""

    kind = "slots"

    def __init__(
        self, channels: int, grid: tuple[int, int], charset: Charset, reduced: int = 64, dropout: float = 0.25
    ) -> None:
        super().__init__()
        self.charset = charset
        self.reduce = conv_bn(channels, reduced, 1)
        self.dropout = nn.Dropout(dropout)
        self.classify = nn.Linear(reduced * grid[0] * grid[1], charset.slots * charset.classes)
        self.class_groups = charset.slots  # output rows come in one group of classes per slot

    @property
    def hidden(self) -> nn.Module:
        """The layers a head for a new charset keeps."""
        return self.reduce

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.dropout(torch.flatten(self.reduce(features), 1))
        logits: torch.Tensor = self.classify(x)
        return logits.view(-1, self.charset.slots, self.charset.classes)


def conv1d_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm1d(cout), nn.ReLU(inplace=True))


class CtcLine(nn.Module):
    """Features (N, C, rows, cols) -> (N, 2 * cols, hidden): one text line's column features at twice the columns.

    Every feature row goes into the channels, so a line sees the whole plate height and learns which printed
    row it reads.
    """

    def __init__(self, channels: int, rows: int, hidden: int) -> None:
        super().__init__()
        self.columns = conv1d_bn(channels * rows, hidden)
        self.upsample = nn.Upsample(scale_factor=2.0, mode="nearest")
        self.refine = conv1d_bn(hidden, hidden)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        n, c, rows, cols = features.shape
        x: torch.Tensor = self.refine(self.upsample(self.columns(features.reshape(n, c * rows, cols))))
        return x.transpose(1, 2)


class CtcHead(nn.Module):
    """Features -> (N, frames, classes) logits: the top line's frames, then the bottom line's; the last class
    is CTC's blank."""

    kind = "ctc"

    def __init__(
        self, channels: int, grid: tuple[int, int], charset: Charset, hidden: int = 192, dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.charset = charset
        self.lines = nn.ModuleList(CtcLine(channels, grid[0], hidden) for _ in range(2))
        self.dropout = nn.Dropout(dropout)
        self.classify = nn.Linear(hidden, charset.classes)
        self.class_groups = 1  # one output row per class, shared by every frame

    @property
    def hidden(self) -> nn.Module:
        """The layers a head for a new charset keeps."""
        return self.lines

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        frames = torch.cat([line(features) for line in self.lines], dim=1)
        logits: torch.Tensor = self.classify(self.dropout(frames))
        return logits


HEADS: dict[str, type[CtcHead] | type[SlotHead]] = {head.kind: head for head in (CtcHead, SlotHead)}


def make_head(kind: str, channels: int, grid: tuple[int, int], charset: Charset) -> CtcHead | SlotHead:
    if kind not in HEADS:
        raise ValueError(f"unknown recognizer head {kind!r}; expected one of {', '.join(HEADS)}")
    return HEADS[kind](channels, grid, charset)


def head_kind(state: dict[str, torch.Tensor]) -> str:
    """Which head a saved state dict holds."""
    return "ctc" if any(key.startswith("head.lines.") for key in state) else "slots"


class PlateRecognizer(nn.Module):
    """Backbone + head; forward returns (N, positions, classes) logits (probabilities once exported)."""

    def __init__(
        self,
        charset: Charset | None = None,
        backbone: PlateBackbone | LiteBackbone | None = None,
        grid: tuple[int, int] = (4, 16),
        head: str = "slots",
    ) -> None:
        super().__init__()
        self.charset = charset or Charset()
        self.backbone = backbone or PlateBackbone()
        self.grid = grid
        self.head = make_head(head, self.backbone.channels, grid, self.charset)
        self.input_size = INPUT_SIZE

    @property
    def head_kind(self) -> str:
        return self.head.kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.backbone(x))
        return logits

    def replace_head(self, charset: Charset) -> None:
        """A new output layer for another character set (fine-tuning to a region); the backbone stays."""
        self.charset = charset
        self.head = make_head(self.head_kind, self.backbone.channels, self.grid, charset)
