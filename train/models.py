"""Colorization networks by name.

Every model takes gray ``(N, 1, H, W)`` in [0, 1] and returns RGB ``(N, 3, H, W)`` in [0, 1]:
one contract for training, export and runtime. ``create_model(name, **kwargs)`` builds one;
``MODELS`` lists the names. Each class exposes ``size_multiple`` (the input side must be a
multiple of it; 1 means any size) and ``train_outputs`` (what a training step needs, typed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from colorbatch.architectures import CHROMA_BINS, CHROMA_BINS_HINTS, CHROMA_ENSEMBLE, CHROMA_UNET, SEED_UNET

from .bins import STEP, annealed_mean, bin_centres
from .color import chroma_to_rgb
from .encoders import EfficientLite0Encoder
from .hint_layers import KEY_STRIDE, HintAttention, ReferenceBranch, fit_to_reference

MODELS: dict[str, Callable[..., nn.Module]] = {}


@dataclass
class TrainOutputs:
    """What a training step takes from a model (its ``train_outputs``, the one training entry
    point of every model here): ``rgb`` in [0, 1] (None when not asked for: a chroma-bins model
    trained on its bin loss alone), the auxiliary class head's ``class_logits`` (None without
    one) and a chroma-bins model's ``bin_logits``."""

    rgb: torch.Tensor | None
    class_logits: torch.Tensor | None = None
    bin_logits: torch.Tensor | None = None

    def float(self) -> TrainOutputs:
        """RGB and class logits in fp32 for the loss (bin logits stay as computed)."""
        return TrainOutputs(None if self.rgb is None else self.rgb.float(),
                            None if self.class_logits is None else self.class_logits.float(), self.bin_logits)


class UnknownModelError(ValueError):
    """A model name that is not in the registry."""


def register_model(name: str):
    def wrap(constructor: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS[name] = constructor
        return constructor

    return wrap


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the registered model ``name`` with its constructor arguments."""
    if name not in MODELS:
        raise UnknownModelError(f"unknown architecture {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name](**kwargs)


# --- seed-unet: the original recipe's architecture -------------------------------------------


def _conv_bn_relu(cin: int, cout: int, stride: int = 2) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


def _upconv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SeparableConv2d(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class SeedUNet(nn.Module):
    """The original recipe: five stride-2 conv-BN-ReLU blocks, transposed-conv decoder with
    skip concatenation, gray input concatenated before a separable conv, sigmoid RGB."""

    size_multiple = 32

    def __init__(self, widths: tuple[int, ...] = (128, 128, 256, 512, 512)) -> None:
        super().__init__()
        w1, w2, w3, w4, w5 = widths
        self.encoder = nn.ModuleList(
            [_conv_bn_relu(1, w1), _conv_bn_relu(w1, w2), _conv_bn_relu(w2, w3),
             _conv_bn_relu(w3, w4), _conv_bn_relu(w4, w5)]
        )
        self.decoder = nn.ModuleList(
            [_upconv_bn_relu(w5, w4), _upconv_bn_relu(2 * w4, w3), _upconv_bn_relu(2 * w3, w2),
             _upconv_bn_relu(2 * w2, w1), _upconv_bn_relu(2 * w1, 3)]
        )
        self.final_conv = SeparableConv2d(3 + 1, 3)

    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        skips = []
        x = gray
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        skips.pop()  # the deepest feature map is the decoder's input, not a skip
        for block in self.decoder:
            x = block(x)
            if skips:
                x = torch.cat([x, skips.pop()], dim=1)
        return torch.sigmoid(self.final_conv(torch.cat([x, gray], dim=1)))

    def train_outputs(self, gray: torch.Tensor, rgb: bool = True) -> TrainOutputs:
        return TrainOutputs(self(gray))


@register_model(SEED_UNET)
def seed_unet(widths: tuple[int, ...] = (128, 128, 256, 512, 512)) -> nn.Module:
    return SeedUNet(widths=tuple(widths))


# --- chroma-unet: predicts chroma, keeps the input's luminance -------------------------------


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        )


class GlobalContext(nn.Module):
    """Squeeze the bottleneck to one vector and add it back everywhere: scene-level colour cues."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels, channels), nn.ReLU(inplace=True),
                                 nn.Linear(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = self.mlp(x.mean(dim=(2, 3)))
        return x + context[:, :, None, None]


class ChromaModel(nn.Module):
    """Base of the luminance-preserving models: subclasses predict (Cb, Cr) from luminance, this
    recombines them with the exact input luminance, so the output never changes the brightness
    it was given.

    ``flip_average``: in eval mode, average the prediction with that of the mirrored image
    (test-time augmentation; the average of two colours of equal luminance keeps it).
    """

    size_multiple = 1

    def __init__(self, flip_average: bool = False) -> None:
        super().__init__()
        self.flip_average = flip_average

    def predict_chroma(self, gray: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def train_outputs(self, gray: torch.Tensor, rgb: bool = True) -> TrainOutputs:
        """Training: RGB (and, in the subclasses that have one, the class head's logits)."""
        return TrainOutputs(self(gray))

    def forward(self, gray: torch.Tensor, *decoding: torch.Tensor) -> torch.Tensor:
        """RGB from gray; ``decoding`` goes to ``predict_chroma`` (a chroma-bins model's
        temperature and correction, none for the others)."""
        rgb = chroma_to_rgb(gray, self.predict_chroma(gray, *decoding))
        if self.flip_average and not self.training:
            mirrored = gray.flip(-1)
            rgb = 0.5 * (rgb + chroma_to_rgb(mirrored, self.predict_chroma(mirrored, *decoding)).flip(-1))
        return rgb


CLASS_HEAD = "classifier."  # parameter prefix of the auxiliary class head (training only; export leaves it out)

class ChromaUNet(ChromaModel):
    """U-Net from luminance to chroma (Cb, Cr) in [-0.5, 0.5].

    ``num_classes`` > 0 adds a linear class head on the pooled bottleneck, trained as an auxiliary
    loss so the encoder learns what the scene shows (Iizuka et al. 2016); inference and export
    never run it.
    """

    def __init__(self, width: int = 32, depth: int = 3, global_context: bool = True,
                 flip_average: bool = False, num_classes: int = 0) -> None:
        super().__init__(flip_average)
        widths = [width * 2**i for i in range(depth + 1)]
        self.stem = DoubleConv(1, widths[0])
        self.down = nn.ModuleList(DoubleConv(widths[i], widths[i + 1]) for i in range(depth))
        self.context = GlobalContext(widths[-1]) if global_context else nn.Identity()
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth))
        )
        self.merge = nn.ModuleList(DoubleConv(2 * widths[i], widths[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], 2, 1)
        self.classifier = nn.Linear(widths[-1], num_classes) if num_classes > 0 else None
        self.depth = depth

    def predict_chroma(self, gray: torch.Tensor) -> torch.Tensor:
        return self._chroma_and_bottleneck(gray)[0]

    def train_outputs(self, gray: torch.Tensor, rgb: bool = True) -> TrainOutputs:
        if self.classifier is None:
            return super().train_outputs(gray, rgb)
        chroma, bottleneck = self._chroma_and_bottleneck(gray)
        return TrainOutputs(chroma_to_rgb(gray, chroma), self.classifier(bottleneck.mean(dim=(2, 3))))

    def _chroma_and_bottleneck(self, gray: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        height, width = gray.shape[-2:]
        multiple = 2**self.depth
        pad_h, pad_w = (-height) % multiple, (-width) % multiple
        # Always pad (possibly by 0): a data-dependent branch would be fixed at export time.
        x = F.pad(gray, (0, pad_w, 0, pad_h), mode="replicate")
        x = self.stem(x - 0.5)
        skips = [x]
        for block in self.down:
            x = block(F.max_pool2d(x, 2))
            skips.append(x)
        bottleneck = skips.pop()
        x = self.context(bottleneck)
        for up, merge in zip(self.up, self.merge):
            x = merge(torch.cat([up(x), skips.pop()], dim=1))
        return 0.5 * torch.tanh(self.head(x))[..., :height, :width], bottleneck


class ChromaEnsemble(ChromaModel):
    """Several chroma-unets trained apart; their chroma predictions are averaged."""

    def __init__(self, members: list[dict], flip_average: bool = False) -> None:
        super().__init__(flip_average)
        self.members = nn.ModuleList(ChromaUNet(**member) for member in members)

    def predict_chroma(self, gray: torch.Tensor) -> torch.Tensor:
        return torch.stack([member.predict_chroma(gray) for member in self.members]).mean(dim=0)


@register_model(CHROMA_UNET)
def chroma_unet(width: int = 32, depth: int = 3, global_context: bool = True,
                flip_average: bool = False, num_classes: int = 0) -> nn.Module:
    return ChromaUNet(width=width, depth=depth, global_context=global_context, flip_average=flip_average,
                      num_classes=num_classes)


@register_model(CHROMA_ENSEMBLE)
def chroma_ensemble(members: list[dict], flip_average: bool = False) -> nn.Module:
    return ChromaEnsemble(members=[dict(member) for member in members], flip_average=flip_average)


# --- chroma-bins: a distribution over quantised chroma, decoded at a chosen temperature ---------


class BinnedChromaUNet(ChromaModel):
    """EfficientNet-Lite0 encoder, U-Net decoder, and a head giving each position (at half the
    input's resolution) logits over the chroma bins of ``bins.py``. The chroma is their annealed
    mean at ``temperature`` with ``correction`` of the rebalancing tilt removed (see ``bins.py``),
    upsampled to the input's size and recombined with its exact luminance.

    ``forward(gray, temperature, correction)`` takes the decoding as tensors of shape (1,), so the
    exported graph does too; without them the model's own defaults apply.
    """

    def __init__(self, decoder: tuple[int, ...] = (160, 96, 64), step: float = STEP,
                 flip_average: bool = False, num_classes: int = 0) -> None:
        super().__init__(flip_average)
        self.encoder = EfficientLite0Encoder()
        skips = self.encoder.skip_channels
        self.context = GlobalContext(skips[-1])
        channels = [skips[-1], *decoder]
        self.merge = nn.ModuleList(
            DoubleConv(channels[i] + skips[-2 - i], channels[i + 1]) for i in range(len(decoder))
        )
        centres = torch.from_numpy(bin_centres(step))
        self.head = nn.Conv2d(decoder[-1], len(centres), 1)
        self.register_buffer("centres", centres)
        self.register_buffer("log_weights", torch.zeros(len(centres)))  # set from the data by the trainer
        self.classifier = nn.Linear(skips[-1], num_classes) if num_classes > 0 else None
        self.temperature = 1.0
        self.correction = 1.0
        # each decoder level doubles the resolution from the encoder's stride 32
        self.output_stride = 32 // 2 ** len(decoder)
        self.step = step

    def bin_logits(self, gray: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(N, Q, ceil(H/s), ceil(W/s))`` (``s`` the output stride) and the bottleneck's pooled features."""
        levels, pooled = self.decoder_levels(gray)
        return self.crop_to(self.head(levels[-1]), gray.shape[-2:], self.output_stride), pooled

    def decoder_levels(self, gray: torch.Tensor, bottleneck_shift: torch.Tensor | None = None
                       ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The decoder's feature maps, coarsest first (the last at the output stride), for the input
        padded to a multiple of 32, and the bottleneck's pooled features. ``bottleneck_shift``
        ``(N, C)`` is added to the bottleneck first (a hint model's reference)."""
        height, width = gray.shape[-2:]
        pad_h, pad_w = (-height) % 32, (-width) % 32
        # Always pad (possibly by 0): a data-dependent branch would be fixed at export time.
        x = F.pad(gray, (0, pad_w, 0, pad_h), mode="replicate")
        features = self.encoder(x)
        x = features.pop()
        if bottleneck_shift is not None:
            x = x + bottleneck_shift[:, :, None, None]
        x = self.context(x)
        pooled = x.mean(dim=(2, 3))
        levels = []
        for merge in self.merge:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = merge(torch.cat([x, features.pop()], dim=1))
            levels.append(x)
        return levels, pooled

    @staticmethod
    def crop_to(x: torch.Tensor, shape, stride: int) -> torch.Tensor:
        """``x`` at ``stride`` cropped to cover an input of ``shape`` (padding removed)."""
        # (n + s - 1) // s, not -(-n // s): ONNX integer division truncates towards zero
        return x[..., : (shape[0] + stride - 1) // stride, : (shape[1] + stride - 1) // stride]

    def decode(self, logits: torch.Tensor, shape: tuple[int, int], temperature=None, correction=None) -> torch.Tensor:
        """Chroma ``(N, 2, H, W)`` from bin logits, upsampled to ``shape``."""
        temperature = self.temperature if temperature is None else temperature
        correction = self.correction if correction is None else correction
        chroma = annealed_mean(logits.float(), self.centres, temperature, self.log_weights, correction)
        chroma = F.interpolate(chroma, scale_factor=float(self.output_stride), mode="bilinear", align_corners=False)
        return chroma[..., : shape[0], : shape[1]]

    def predict_chroma(self, gray: torch.Tensor, temperature=None, correction=None) -> torch.Tensor:
        logits, _ = self.bin_logits(gray)
        return self.decode(logits, gray.shape[-2:], temperature, correction)

    def train_outputs(self, gray: torch.Tensor, rgb: bool = True) -> TrainOutputs:
        """Training: the bin logits, the class logits (or None) and, when ``rgb``, the decoded RGB."""
        logits, pooled = self.bin_logits(gray)
        return TrainOutputs(self.rgb_from_logits(gray, logits) if rgb else None,
                            None if self.classifier is None else self.classifier(pooled), logits)

    def rgb_from_logits(self, gray: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return chroma_to_rgb(gray, self.decode(logits, gray.shape[-2:]))


class HintedBinnedChromaUNet(BinnedChromaUNet):
    """A chroma-bins model that also takes colour a person gives (see ``hints.py``):

    - ``hints`` ``(N, 3, H, W)``: local hints, (Cb, Cr, mask) at the input's resolution; a pixel
      whose mask is 1 asks for that chroma, 0 asks nothing (its chroma is ignored);
    - ``reference`` ``(N, Q)``: a reference photo's distribution over the chroma bins
      (``colorbatch.chroma_bins.chroma_histogram``); all zeros means none (its sum is the flag).

    All zeros (the default) give the automatic output exactly: every hint path is multiplied by
    the mask or the flag, or runs through bias-free layers.
    """

    takes_hints = True

    def __init__(self, decoder: tuple[int, ...] = (160, 96, 64), step: float = STEP,
                 flip_average: bool = False, num_classes: int = 0) -> None:
        if flip_average:
            raise ValueError("a hint model cannot average with its mirror image (hints are not mirrored)")
        super().__init__(decoder, step, False, num_classes)

        bottleneck = self.encoder.skip_channels[-1]
        self.reference_branch = ReferenceBranch(len(self.centres), bottleneck)
        if self.output_stride * 2 != KEY_STRIDE:
            raise ValueError(f"a hint model needs a decoder ending at stride {KEY_STRIDE // 2}")
        self.hint_attention = HintAttention(decoder[-2])

    def predict_chroma(self, gray: torch.Tensor, temperature=None, correction=None,
                       hints: torch.Tensor | None = None, reference: torch.Tensor | None = None) -> torch.Tensor:
        n, _, height, width = gray.shape
        hints = gray.new_zeros(n, 3, height, width) if hints is None else hints
        reference = gray.new_zeros(n, len(self.centres)) if reference is None else reference
        levels, _ = self.decoder_levels(gray, self.reference_branch(reference))
        logits = self.head(levels[-1]) + self.reference_branch.tilt(reference)[:, :, None, None]
        stride = self.output_stride
        temperature = self.temperature if temperature is None else temperature
        correction = self.correction if correction is None else correction
        logits = self.crop_to(logits, (height, width), stride).float() - correction * self.log_weights.view(1, -1, 1, 1)
        chroma = annealed_mean(fit_to_reference(logits, reference, temperature), self.centres)
        spread = self.hint_attention(levels[-2], gray, hints, chroma)
        chroma = chroma + self.crop_to(spread, (height, width), stride)
        chroma = F.interpolate(chroma, scale_factor=float(self.output_stride), mode="bilinear",
                               align_corners=False)[..., :height, :width]
        mask = hints[:, 2:3]
        return chroma + mask * (hints[:, :2] - chroma)  # a hinted pixel gets its hint's chroma

    def forward(self, gray: torch.Tensor, temperature=None, correction=None, hints=None, reference=None):
        return chroma_to_rgb(gray, self.predict_chroma(gray, temperature, correction, hints, reference))


@register_model(CHROMA_BINS)
def chroma_bins(decoder: tuple[int, ...] = (160, 96, 64), step: float = STEP, flip_average: bool = False,
                num_classes: int = 0, hints: bool = False) -> nn.Module:
    kind = HintedBinnedChromaUNet if hints else BinnedChromaUNet
    return kind(decoder=tuple(decoder), step=step, flip_average=flip_average, num_classes=num_classes)


@register_model(CHROMA_BINS_HINTS)
def chroma_bins_hints(decoder: tuple[int, ...] = (160, 96, 64), step: float = STEP, flip_average: bool = False,
                      num_classes: int = 0) -> nn.Module:
    """chroma-bins with the hint layers of ``hint_layers.py`` (local hints, a reference photo): the
    bundled model. (Older checkpoints name it ``chroma-bins`` with ``hints=True``.)"""
    return HintedBinnedChromaUNet(decoder=tuple(decoder), step=step, flip_average=flip_average,
                                  num_classes=num_classes)


def architecture_of(model: nn.Module) -> str:
    """The registered name that builds a chroma-bins ``model``: with or without hint layers."""
    return CHROMA_BINS_HINTS if takes_hints(model) else CHROMA_BINS


def predicts_bins(model: nn.Module) -> bool:
    """Whether ``model`` predicts chroma bins (``BinnedChromaUNet`` and its hint model): it trains on
    the bins' loss and exports with the decoding inputs (temperature, correction)."""
    return isinstance(model, BinnedChromaUNet)


def takes_hints(model: nn.Module) -> bool:
    """Whether ``model`` takes hints and a reference (``HintedBinnedChromaUNet``)."""
    return bool(getattr(model, "takes_hints", False))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
