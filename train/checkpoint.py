"""Self-describing checkpoints: everything needed to rebuild, resume or export a model."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from colorbatch import __version__
from colorbatch.errors import CheckpointError
from colorbatch.files.atomic import atomic_path

from .models import CLASS_HEAD, UnknownModelError, create_model

log = logging.getLogger("colorbatch.train")

FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "arch", "arch_kwargs", "state_dict", "epoch")


def save_checkpoint(path: Path, **fields: Any) -> None:
    """Write atomically (temp file + rename), so an interrupted save never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format_version": FORMAT_VERSION, "colorbatch_version": __version__, **fields}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read and validate a colorbatch checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise CheckpointError(f"{path}: not a torch checkpoint ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or any(key not in payload for key in REQUIRED_KEYS):
        raise CheckpointError(
            f"{path}: not a colorbatch checkpoint (needs keys {', '.join(REQUIRED_KEYS)})"
        )
    if payload["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {payload['format_version']} is newer than this "
            f"colorbatch understands ({FORMAT_VERSION}); upgrade colorbatch"
        )
    return payload


def model_from_checkpoint(payload: dict[str, Any]) -> nn.Module:
    """Rebuild the model a checkpoint describes and load its weights (eval mode)."""
    try:
        model = create_model(payload["arch"], **payload["arch_kwargs"])
    except UnknownModelError as exc:
        raise CheckpointError(str(exc)) from exc
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"weights do not fit {payload['arch']}: {exc}") from exc
    return model.eval()


def load_weights(model: nn.Module, arch: str, arch_kwargs: dict[str, Any], path: Path,
                 own_class_head: bool = False) -> dict[str, Any]:
    """Load the weights of the checkpoint at ``path`` into ``model`` (built as ``arch`` with
    ``arch_kwargs``) and return the checkpoint; one of another architecture is a
    ``CheckpointError``. ``own_class_head``: a different auxiliary class head (or none, as in an
    exported model) is allowed, and the model's own head is kept."""
    payload = load_checkpoint(path)
    theirs, ours = payload["arch_kwargs"], arch_kwargs
    their_classes, our_classes = theirs.get("num_classes", 0), ours.get("num_classes", 0)
    new_head = own_class_head and their_classes != our_classes
    if new_head:
        theirs, ours = _without_class_head(theirs), _without_class_head(ours)
    if payload["arch"] != arch or theirs != ours:
        raise CheckpointError(
            f"{path}: holds {payload['arch']} {payload['arch_kwargs']}, but this run builds "
            f"{arch} {arch_kwargs}; pass the same architecture options"
        )
    state = payload["state_dict"]
    if new_head:
        state = {name: value for name, value in state.items() if not name.startswith(CLASS_HEAD)}
        state |= {name: value for name, value in model.state_dict().items() if name.startswith(CLASS_HEAD)}
        log.info("class head: a new one for %d classes (the checkpoint's had %d)", our_classes, their_classes)
    model.load_state_dict(state)
    return payload


def _without_class_head(arch_kwargs: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in arch_kwargs.items() if key != "num_classes"}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
