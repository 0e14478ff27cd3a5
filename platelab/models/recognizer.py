"""A small fixed-slot CNN plate recognizer.

The backbone is a small VGG-like stack; the head flattens the whole
feature map and predicts every character slot from it, so one- and two-row plates read the same way and text
printed around the characters is ignored by learning, not by rules.
"""

from __future__ import annotations

import torch
from torch import nn

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
        return self.layers(x)


class SlotHead(nn.Module):
    """Features -> per-slot class logits (N, slots, classes)."""

    def __init__(
        self, channels: int, grid: tuple[int, int], charset: Charset, reduced: int = 64, dropout: float = 0.25
    ) -> None:
        super().__init__()
        self.charset = charset
        self.reduce = conv_bn(channels, reduced, 1)
        self.dropout = nn.Dropout(dropout)
        self.classify = nn.Linear(reduced * grid[0] * grid[1], charset.slots * charset.classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.dropout(torch.flatten(self.reduce(features), 1))
        return self.classify(x).view(-1, self.charset.slots, self.charset.classes)


class PlateRecognizer(nn.Module):
    """Backbone + slot head; forward returns per-slot probabilities at export, logits in training."""

    def __init__(
        self,
        charset: Charset | None = None,
        backbone: nn.Module | None = None,
        grid: tuple[int, int] = (4, 16),
    ) -> None:
        super().__init__()
        self.charset = charset or Charset()
        self.backbone = backbone or PlateBackbone()
        self.head = SlotHead(self.backbone.channels, grid, self.charset)
        self.input_size = INPUT_SIZE

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def replace_head(self, charset: Charset) -> None:
        """A new output layer for another character set (fine-tuning to a region); the backbone stays."""
        grid = self.head.classify.in_features // self.head.reduce[0].out_channels
        rows = 4 if grid % 4 == 0 else 1
        self.charset = charset
        self.head = SlotHead(self.backbone.channels, (rows, grid // rows), charset)
