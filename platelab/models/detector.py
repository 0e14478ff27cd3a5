"""A small CenterNet-style plate detector: plain strided CNN, light top-down merge to stride 4, two heads.

The heatmap head scores each stride-4 cell as a plate centre; the corner head regresses the plate's 4 corners
from that cell (8 numbers, encoded by platelab.predict.detector.encode_offsets). Plain 3x3 convolutions, as in
the recognizer: they train much faster than depthwise blocks on a CPU and onnxruntime runs them well.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from platelab.models.recognizer import conv_bn
from platelab.predict.detector import INPUT_SIZE, STRIDE

PRIOR_SCORE = 0.05  # initial heatmap output, so the first steps are not swamped by the many empty cells


class DetectorBackbone(nn.Module):
    """(N, 1, H, W) -> features at strides 4, 8, 16 and 32."""

    def __init__(self, widths: tuple[int, ...] = (16, 24, 48, 80, 128)) -> None:
        super().__init__()
        w = widths
        self.stem = nn.Sequential(conv_bn(1, w[0], 3, 2), conv_bn(w[0], w[1], 3, 2), conv_bn(w[1], w[1]))
        self.stage8 = nn.Sequential(conv_bn(w[1], w[2], 3, 2), conv_bn(w[2], w[2]))
        self.stage16 = nn.Sequential(conv_bn(w[2], w[3], 3, 2), conv_bn(w[3], w[3]))
        # Two convolutions at stride 32 widen the view to the largest plates (a third of the input wide).
        self.stage32 = nn.Sequential(conv_bn(w[3], w[4], 3, 2), conv_bn(w[4], w[4]), conv_bn(w[4], w[4]))
        self.channels = (w[1], w[2], w[3], w[4])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        s4 = self.stem(x)
        s8 = self.stage8(s4)
        s16 = self.stage16(s8)
        return [s4, s8, s16, self.stage32(s16)]


class TopDown(nn.Module):
    """Feature-pyramid merge from stride 32 down to stride 4: upsample, add the lateral, mix with a 3x3."""

    def __init__(self, channels: tuple[int, ...], widths: tuple[int, ...] = (24, 48, 64, 96)) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(conv_bn(c, w, 1) for c, w in zip(channels, widths))
        self.reduce = nn.ModuleList(conv_bn(widths[i + 1], widths[i], 1) for i in range(len(widths) - 1))
        self.mix = nn.ModuleList(conv_bn(w, w) for w in widths[:-1])
        self.channels = widths[0]

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x: torch.Tensor = self.lateral[-1](features[-1])
        for level in reversed(range(len(features) - 1)):
            up = F.interpolate(self.reduce[level](x), scale_factor=2.0, mode="nearest")
            x = self.mix[level](self.lateral[level](features[level]) + up)
        return x


class PlateDetector(nn.Module):
    """(N, 1, H, W) standardised grey -> heatmap logits (N, 1, H/4, W/4), encoded corners (N, 8, H/4, W/4)."""

    def __init__(self, head_width: int = 32) -> None:
        super().__init__()
        self.backbone = DetectorBackbone()
        self.neck = TopDown(self.backbone.channels)
        self.head = conv_bn(self.neck.channels, head_width)  # shared: the costliest layer
        self.heat = nn.Conv2d(head_width, 1, 1)
        self.corners = nn.Conv2d(head_width, 8, 1)
        assert self.heat.bias is not None  # nn.Conv2d has a bias unless built with bias=False
        nn.init.constant_(self.heat.bias, math.log(PRIOR_SCORE / (1 - PRIOR_SCORE)))
        self.input_size = INPUT_SIZE
        self.stride = STRIDE

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.head(self.neck(self.backbone(x)))
        return self.heat(features), self.corners(features)
