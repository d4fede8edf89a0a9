"""What a training run is: ``TrainConfig``, and how command-line options (with a preset's run
settings and loss weights) become one."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .losses import LOGGED_TERMS, PRESETS, LossWeights

# The original recipe's run settings, used with --preset where an option is not given.
PRESET_RUN = {"arch": "seed-unet", "lr": 1e-4, "batch_size": 16, "epochs": 50, "schedule": "constant"}


@dataclass
class TrainConfig:
    data: str
    out: str
    gray_dir: str | None = None
    arch: str = "chroma-unet"
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    schedule: str = "onecycle"  # onecycle | cosine | constant
    loss: dict[str, float] = field(default_factory=lambda: dataclasses.asdict(LossWeights()))
    pixel_loss: str = "mse"  # mse | log-mse
    vgg_weights: str | None = None
    seed: int = 0
    eval_every: int = 5
    device: str = "auto"
    precision: str = "auto"  # auto (fp16 on CUDA, fp32 on CPU) | fp32 | bf16 | fp16
    flip: bool = True
    crop: bool = False
    image_size: int = 32
    max_images: int | None = None
    cache_dir: str | None = None
    compare_count: int = 8
    val_fraction: float = 0.1
    pretrained: bool = True  # chroma-bins: start the encoder from ImageNet weights (train --no-pretrained)
    rebalance: float = 0.5  # chroma-bins: strength of the class rebalancing (0 none, 1 Zhang et al.'s)


def config_from_options(options: dict[str, Any], given: set[str]) -> TrainConfig:
    """A ``TrainConfig`` from the train command's options (``given``: those the user typed). A preset
    fills the run settings and loss weights not given; chroma-bins defaults to its bin loss alone."""
    options = dict(options)
    loss = {k: options[f"{k}_weight"] for k in LOGGED_TERMS}
    if options.get("preset"):
        options.update({k: v for k, v in PRESET_RUN.items() if k not in given})
        preset = PRESETS[options["preset"]]
        loss = {k: (loss[k] if f"{k}_weight" in given else getattr(preset, k)) for k in loss}
    arch_kwargs: dict[str, Any] = {}
    if options["arch"] == "chroma-bins":
        loss["bins"] = options["bins_weight"] if "bins_weight" in given else 1.0
        loss["mse"] = options["mse_weight"] if "mse_weight" in given else 0.0
    if options["arch"] == "chroma-unet":
        arch_kwargs = {"width": options["width"], "depth": options["depth"],
                       "global_context": options["global_context"]}
    optional = {k: (str(options[k]) if options.get(k) else None)
                for k in ("gray_dir", "vgg_weights", "cache_dir")}
    same = ("epochs", "batch_size", "lr", "schedule", "pixel_loss", "seed", "eval_every", "device", "precision",
            "flip", "crop", "image_size", "max_images", "val_fraction", "rebalance")
    return TrainConfig(
        data=str(options["data_dir"]), out=str(options["out_dir"]), arch=options["arch"], arch_kwargs=arch_kwargs,
        loss=loss, pretrained=_pretrained(options.get("pretrained")) and options["arch"] == "chroma-bins",
        **optional, **{k: options[k] for k in same},
    )


def _pretrained(given: bool | None) -> bool:
    """``--pretrained``/``--no-pretrained`` when given, else the one default, ``TrainConfig.pretrained``."""
    return TrainConfig.pretrained if given is None else given


def with_arch_kwargs(config: TrainConfig, **kwargs: Any) -> TrainConfig:
    """A copy of ``config`` whose architecture takes ``kwargs`` as well (the caller's is unchanged)."""
    return dataclasses.replace(config, arch_kwargs={**config.arch_kwargs, **kwargs})
