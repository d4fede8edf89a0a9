"""The recipe's losses: pixel MSE, VGG-16 perceptual loss, L1 and L2 weight regularisation; plus two
of ours that train for the benchmark's own figures: per-image log MSE and 1 - SSIM.

``VGG16Features`` mirrors torchvision's ``vgg16().features`` layer for layer, so torchvision's
ImageNet file ``vgg16-397923af.pth`` loads unchanged; nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from colorbatch.errors import WeightsError

from .bins import soft_encode
from .color import rgb_to_chroma
from .metrics import ssim_per_image

VGG16_FILE = "vgg16-397923af.pth"
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG16Features(nn.Module):
    """torchvision's VGG-16 ``features``, cut after ``relu3_3`` (index 15) for the loss."""

    def __init__(self, last_layer: int = 15) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU(inplace=True)]
                channels = item
        self.features = nn.Sequential(*layers)
        self.last_layer = last_layer
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = (rgb - self.mean) / self.std
        for layer in self.features[: self.last_layer + 1]:
            x = layer(x)
        return x


def default_vgg_path() -> Path:
    """Where torch's hub cache keeps torchvision's VGG-16 file."""
    torch_home = os.environ.get("TORCH_HOME", os.path.join(os.path.expanduser("~"), ".cache", "torch"))
    return Path(torch_home) / "hub" / "checkpoints" / VGG16_FILE


def load_vgg16_features(path: Path | None = None) -> VGG16Features:
    """VGG-16 features with ImageNet weights read from ``path`` (or the torch hub cache), frozen."""
    path = Path(path) if path is not None else default_vgg_path()
    if not path.is_file():
        raise WeightsError(
            f"VGG-16 weights not found at {path}. The perceptual loss needs torchvision's ImageNet "
            f"file {VGG16_FILE}: put it there, or pass --vgg-weights PATH "
            f"(or set the VGG weight to 0 to train without it)."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise WeightsError(f"{path}: cannot be read as a torch state dict ({exc})") from exc
    model = VGG16Features()
    wanted = {k: v for k, v in state.items() if k.startswith("features.")} if isinstance(state, dict) else {}
    expected = {k: v.shape for k, v in model.state_dict().items() if k.startswith("features.")}
    problems = [k for k in expected if k not in wanted or wanted[k].shape != expected[k]]
    if problems:
        raise WeightsError(
            f"{path}: not torchvision's VGG-16 layout ({len(problems)} of {len(expected)} feature "
            f"tensors missing or misshapen, e.g. {problems[0]})"
        )
    model.load_state_dict(wanted, strict=False)
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


@dataclass(frozen=True)
class LossWeights:
    mse: float = 1.0
    vgg: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    ssim_loss: float = 0.0  # 1 - SSIM, with the metric's own definition (not in the original recipe)
    class_loss: float = 0.0  # cross-entropy of an auxiliary class head (not in the original recipe)
    bins: float = 0.0  # rebalanced cross-entropy of a chroma-bin head against soft-encoded truth (chroma-bins)


PIXEL_LOSSES = ("mse", "log-mse")
LOGGED_TERMS = tuple(f.name for f in dataclasses.fields(LossWeights))
# Below one 8-bit step the error is rounding noise: log-mse stops chasing it.
_LOG_MSE_FLOOR = (0.5 / 255) ** 2


def log_mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over images of ``ln(MSE_i + floor)``: mean PSNR is exactly an affine function of the mean of
    ``log10(MSE_i)``, so this trains for the figure the benchmark reports, where plain MSE (pooled over
    the batch) lets the colourful, high-error images dominate."""
    per_image = (output - target).pow(2).flatten(1).mean(1)
    return torch.log(per_image + _LOG_MSE_FLOOR).mean()


def binned_cross_entropy(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of bin logits ``(N, Q, h, w)`` against soft targets of the same shape, each
    position weighted by its target's expected rebalancing weight (Zhang et al. 2016, eq. 2)."""
    log_probabilities = torch.log_softmax(logits.float(), dim=1)
    cross_entropy = -(target * log_probabilities).sum(1)
    position_weight = (target * weights.view(1, -1, 1, 1)).sum(1)
    return (position_weight * cross_entropy).mean()


class ColorizationLoss(nn.Module):
    """Weighted sum of the terms; ``forward`` returns the total and each term apart.

    The pixel term is the recipe's MSE, or ``log-mse`` (see :func:`log_mse`); the logged ``mse`` column
    is plain MSE either way, so runs stay comparable.
    """

    def __init__(self, weights: LossWeights, vgg: VGG16Features | None = None, pixel: str = "mse") -> None:
        super().__init__()
        if weights.vgg > 0 and vgg is None:
            raise ValueError("a VGG weight above 0 needs the VGG-16 feature extractor")
        if pixel not in PIXEL_LOSSES:
            raise ValueError(f"unknown pixel loss {pixel!r}; known: {', '.join(PIXEL_LOSSES)}")
        self.weights = weights
        self.vgg = vgg
        self.pixel = pixel

    def forward(
        self, output: torch.Tensor | None, target: torch.Tensor, model: nn.Module,
        logits: torch.Tensor | None = None, labels: torch.Tensor | None = None,
        bin_logits: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """``output`` may be None for a chroma-bins model trained on the bin loss alone."""
        terms = {} if output is None else {"mse": F.mse_loss(output, target)}
        if self.weights.bins > 0:
            if bin_logits is None:
                raise ValueError("a bins weight above 0 needs a chroma-bins model's bin logits")
            bin_target = soft_encode(rgb_to_chroma(target), model.centres, model.step, pool=model.output_stride)
            terms["bins"] = binned_cross_entropy(bin_logits, bin_target, model.log_weights.exp())
        if self.weights.class_loss > 0:
            if logits is None or labels is None:
                raise ValueError("a class-loss weight above 0 needs class logits and labels")
            terms["class_loss"] = F.cross_entropy(logits, labels)
        pixel = 0.0 if output is None else terms["mse"] if self.pixel == "mse" else log_mse(output, target)
        if self.weights.ssim_loss > 0:
            terms["ssim_loss"] = 1 - ssim_per_image(output, target).mean()
        if self.weights.vgg > 0:
            terms["vgg"] = F.mse_loss(self.vgg(output), self.vgg(target))
        if self.weights.l1 > 0 or self.weights.l2 > 0:
            matrices = [p for p in model.parameters() if p.ndim > 1]
            if self.weights.l1 > 0:
                terms["l1"] = sum(p.abs().sum() for p in matrices)
            if self.weights.l2 > 0:
                terms["l2"] = sum(p.pow(2).sum() for p in matrices)
        total = self.weights.mse * pixel + sum(
            getattr(self.weights, name) * value for name, value in terms.items() if name != "mse"
        )
        return total, {name: float(value.detach()) for name, value in terms.items()}  # only the terms computed


PRESETS = {
    # The original experiments: seed-unet, Adam 1e-4, batch 16, 50 epochs, differing in loss only.
    "exp1": LossWeights(mse=1.0),
    "exp2": LossWeights(mse=1.0, vgg=0.01),
    "exp3": LossWeights(mse=1.0, vgg=0.01, l1=1e-7, l2=1e-6),
}
