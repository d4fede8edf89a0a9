"""An exported chroma-bins model (with or without hint layers) back to a trainable checkpoint, for
fine-tuning when the run's checkpoints are gone (they live outside git; the bundled ONNX file is
what survives). ``colorbatch import-onnx`` is the command:

    colorbatch import-onnx colorbatch/models/colorbatch-default.onnx -o runs/bundled.pth \
        --calibrate data/tiny-imagenet-64/train
    colorbatch train ... --arch chroma-bins --init runs/bundled.pth
    colorbatch import-onnx MODEL.onnx -o runs/same.pth   # to re-export only

The exporter folds each BatchNorm into the convolution before it (ONNX initializers
``<conv>.weight`` and ``<conv>.weight_bias``) and drops the class head, which inference never uses.
So each convolution takes the folded weight and its BatchNorm becomes the identity plus the folded
bias. That is exact in eval mode, but training mode normalises by batch statistics, so
``calibrate`` measures them on real images and rescales every BatchNorm to undo them: the model
then computes the same function in both modes, and fine-tuning continues as training did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from PIL import Image
from torch import nn

from colorbatch.architectures import CHROMA_BINS, CHROMA_BINS_HINTS, IMPORTABLE
from colorbatch.errors import CheckpointError
from colorbatch.files.discover import iter_images

from .checkpoint import save_checkpoint
from .models import CLASS_HEAD, architecture_of, create_model

FOLDED_BIAS = "_bias"


def _initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Initializers by name, with the ``.fp16`` suffix of fp16-stored weights dropped, as float32."""
    arrays = {}
    for tensor in model.graph.initializer:
        name = tensor.name.removesuffix(".fp16").removeprefix("model.")
        arrays[name] = numpy_helper.to_array(tensor).astype(np.float32)
    return arrays


def _conv_norm_pairs(model: nn.Module) -> list[tuple[str, nn.Conv2d, str, nn.BatchNorm2d]]:
    """Each convolution with the BatchNorm registered right after it (the order forward uses
    them), both with their names."""
    pairs, pending = [], None
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            pending = (name, module)
        elif isinstance(module, nn.BatchNorm2d) and pending is not None:
            pairs.append((*pending, name, module))
            pending = None
    return pairs


def load_folded_weights(model: nn.Module, arrays: dict[str, np.ndarray]) -> None:
    """Copy an export's weights into ``model``: folded convolutions plus identity BatchNorms, and every
    other parameter or buffer by name. A weight the export lacks (the class head) keeps its init."""
    state = model.state_dict()
    loaded = set()
    for name, conv, norm_name, norm in _conv_norm_pairs(model):
        weight, bias = arrays.get(f"{name}.weight"), arrays.get(f"{name}.weight{FOLDED_BIAS}")
        if weight is None or bias is None:
            raise CheckpointError(f"the ONNX model has no folded weights for {name}")
        conv.weight.data.copy_(torch.from_numpy(weight))
        norm.reset_parameters()
        norm.running_var.fill_(1 - norm.eps)  # so that sqrt(var + eps) == 1
        norm.bias.data.copy_(torch.from_numpy(bias))
        loaded.add(f"{name}.weight")
        loaded.update(f"{norm_name}.{key}" for key in norm.state_dict())
    for key in state:
        if key in loaded or key not in arrays:
            continue
        state[key].copy_(torch.from_numpy(arrays[key]).reshape(state[key].shape))
        loaded.add(key)
    rebuilt = (CLASS_HEAD, "centres", "log_weights")  # the class head is not exported; the bins are set apart
    missing = [k for k in state if k not in loaded and not k.startswith(rebuilt)]
    if missing:
        raise CheckpointError(f"the ONNX model lacks {len(missing)} weights, e.g. {', '.join(missing[:3])}")


def _buffers_from_graph(model: nn.Module, arrays: dict[str, np.ndarray]) -> None:
    """The rebalancing log-weights are baked into the graph as an unnamed (1, Q, 1, 1) constant."""
    count = len(model.centres)
    candidates = [a for a in arrays.values() if a.shape == (1, count, 1, 1)]
    if len(candidates) != 1:
        raise CheckpointError(f"cannot find the rebalancing weights in the ONNX model ({len(candidates)} candidates)")
    model.log_weights.copy_(torch.from_numpy(candidates[0]).flatten())


@torch.no_grad()
def calibrate(model: nn.Module, gray: torch.Tensor) -> None:
    """Rescale each identity BatchNorm so that training mode (batch statistics) computes what eval
    mode does on ``gray``: weight = batch std, bias += batch mean, running stats = the batch's."""
    hooks = []

    def absorb(norm: nn.BatchNorm2d, inputs: tuple[torch.Tensor]) -> None:
        x = inputs[0]
        mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
        norm.running_mean.copy_(mean)
        norm.running_var.copy_(var)
        norm.bias.add_(mean)
        norm.weight.copy_((var + norm.eps).sqrt())

    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            hooks.append(module.register_forward_pre_hook(absorb))
    model.eval()  # eval: each norm still applies the identity while its hook reads its input
    model.bin_logits(gray)
    for hook in hooks:
        hook.remove()


def _calibration_batch(folder: Path, size: int, count: int = 256, seed: int = 0) -> torch.Tensor:
    paths = list(iter_images(folder))
    if not paths:
        raise CheckpointError(f"{folder}: no images to calibrate on")
    chosen = np.random.default_rng(seed).choice(len(paths), min(count, len(paths)), replace=False)
    gray = []
    for i in chosen:
        with Image.open(paths[i]) as image:
            gray.append(np.asarray(image.convert("L").resize((size, size), Image.Resampling.BICUBIC)))
    return torch.from_numpy(np.stack(gray)).float().div_(255)[:, None]


def network_from_onnx(onnx_path: Path) -> tuple[nn.Module, dict[str, Any], dict[str, str]]:
    """The PyTorch network that a chroma-bins export holds (class head left out, BatchNorms the
    identity: eval mode computes the export), its architecture's arguments (``architecture_of``
    names it) and the export's metadata; ``CheckpointError`` for a file that is not such an export."""
    try:
        proto = onnx.load(str(onnx_path))
    except OSError as exc:
        raise CheckpointError(f"{onnx_path}: cannot read the ONNX model ({exc.strerror or exc})") from None
    except Exception as exc:  # protobuf's DecodeError: not an ONNX file
        raise CheckpointError(f"{onnx_path}: not an ONNX model ({type(exc).__name__})") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get("arch") not in IMPORTABLE:
        raise CheckpointError(f"{onnx_path}: only {' and '.join(IMPORTABLE)} exports can be imported "
                              f"(this is {meta.get('arch')})")
    given = json.loads(meta.get("arch_kwargs", "{}"))
    hinted = meta["arch"] == CHROMA_BINS_HINTS or bool(given.get("hints")) or "hint_inputs" in meta
    kwargs = {k: v for k, v in given.items() if k not in ("num_classes", "hints")}
    model = create_model(CHROMA_BINS_HINTS if hinted else CHROMA_BINS, **kwargs)
    arrays = _initializers(proto)
    load_folded_weights(model, arrays)
    _buffers_from_graph(model, arrays)
    return model, kwargs, meta


def checkpoint_from_onnx(onnx_path: Path, out: Path, calibrate_on: Path | None) -> dict:
    """Write a colorbatch checkpoint (class head left out) that fine-tunes from ``onnx_path``, or,
    without ``calibrate_on``, one that only re-exports it (BatchNorms left the identity, so the
    export folds them back into the same weights)."""
    model, kwargs, meta = network_from_onnx(onnx_path)
    if calibrate_on is not None:
        calibrate(model, _calibration_batch(calibrate_on, int(meta.get("train_size", 64))))
    epoch = int(meta.get("epoch", 0))
    how = "BatchNorms folded, then calibrated" if calibrate_on is not None else "BatchNorms folded, for export only"
    arch = architecture_of(model)
    save_checkpoint(out, arch=arch, arch_kwargs=kwargs, state_dict=model.state_dict(), epoch=epoch,
                    source=f"imported from {onnx_path} ({how})")
    return {"epoch": epoch, "arch": arch, "arch_kwargs": kwargs}
