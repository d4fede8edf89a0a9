"""Checkpoint -> self-describing ONNX model, verified against PyTorch before it is kept.

The graph contract: input ``gray`` float32 ``(N, 1, H, W)`` in [0, 1], output ``rgb`` float32
``(N, 3, H, W)`` in [0, 1]. Batch is dynamic; height and width are dynamic, as multiples of
``size_multiple`` where the architecture needs that.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.export import Dim

from colorbatch import __version__, defaults
from colorbatch.architectures import FLIPPABLE
from colorbatch.errors import ExportError, InvalidPathError
from colorbatch.files.atomic import atomic_path
from colorbatch.hints import HINT_INPUTS
from colorbatch.inference.vividness import DECODING_INPUTS, DEFAULT_CURVE, decoding_for, parse_curve
from colorbatch.train.checkpoint import file_sha256, load_checkpoint, model_from_checkpoint
from colorbatch.train.models import predicts_bins, takes_hints

from .verify import verify_against_torch

DEFAULT_OPSET = defaults.OPSET
COLOUR_SPACE = (
    "input: BT.601 luma (0.299R+0.587G+0.114B) in [0,1]; output: RGB in [0,1]; "
    "chroma: full-range YCbCr"
)
FP32_TOLERANCE = 1e-4
MAX_SIDE = 16384




class WithDecodingInputs(torch.nn.Module):
    """A chroma-bins model whose graph takes its decoding (``temperature``, ``correction``, shape (1,))
    as inputs, so the runtime sets vividness without a re-export."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, gray: torch.Tensor, temperature: torch.Tensor, correction: torch.Tensor) -> torch.Tensor:
        return self.model(gray, temperature, correction)


class WithHintInputs(WithDecodingInputs):
    """A hint model's graph: the decoding inputs, then ``hints`` (N, 3, H, W) and ``reference`` (N, Q)."""

    def forward(self, gray: torch.Tensor, temperature: torch.Tensor, correction: torch.Tensor,
                hints: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return self.model(gray, temperature, correction, hints, reference)


@dataclass
class ExportResult:
    path: Path
    max_abs_diff: float
    checks: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)


def _dynamic_shapes(multiple: int, decoding: bool, hints: bool = False) -> dict[str, dict[int, Any] | None]:
    batch = Dim("batch", min=1, max=4096)
    fixed = dict.fromkeys(DECODING_INPUTS) if decoding else {}
    if hints:
        height, width = Dim("height", min=1, max=MAX_SIDE), Dim("width", min=1, max=MAX_SIDE)
        return {"gray": {0: batch, 2: height, 3: width}, **fixed, "hints": {0: batch, 2: height, 3: width},
                "reference": {0: batch}}
    if multiple > 1:
        blocks = MAX_SIDE // multiple
        return {"gray": {0: batch, 2: multiple * Dim("h_blocks", min=1, max=blocks),
                         3: multiple * Dim("w_blocks", min=1, max=blocks)}, **fixed}
    return {"gray": {0: batch, 2: Dim("height", min=1, max=MAX_SIDE), 3: Dim("width", min=1, max=MAX_SIDE)},
            **fixed}


DEFAULT_TERMS = ("not stated at export: the terms of the data this model was trained on apply "
                 "(colorbatch export --terms states them)")


def build_metadata(payload: dict[str, Any], checkpoint: Path, multiple: int, working_size: int | None,
                   precision: str = "fp32", vividness: tuple[tuple, float] | None = None,
                   min_size: int | None = None, hint_bins: int | None = None,
                   terms: str | None = None) -> dict[str, str]:
    """The model's metadata; ``vividness`` (curve, default) for models with decoding inputs.
    ``working_size`` (default: the training size) is the short side large inputs are scaled down
    to, ``min_size`` (default: the training size) the one small inputs are scaled up to. ``terms``:
    what the model's training data allow (a model inherits its data's terms), shown by ``info``."""
    train_size = int(payload.get("train_size", 32))
    decoding = {}
    if vividness is not None:
        curve, default = vividness
        decoding = {"vividness_curve": json.dumps([list(row) for row in curve]), "default_vividness": str(default),
                    "decoding_inputs": ",".join(DECODING_INPUTS)}
    if hint_bins is not None:
        decoding.update({"hint_inputs": ",".join(HINT_INPUTS), "reference_bins": str(hint_bins),
                         "reference_bin_step": str(payload["arch_kwargs"].get("step", 0.05))})
    return {**decoding,
        "arch": payload["arch"],
        "arch_kwargs": json.dumps(payload["arch_kwargs"]),
        "train_size": str(train_size),
        "working_size": str(working_size or payload.get("working_size", train_size)),
        "min_size": str(min_size or train_size),
        "size_multiple": str(multiple),
        "size_constraint": f"height and width multiples of {multiple}" if multiple > 1 else "any",
        "colour_space": COLOUR_SPACE,
        "contract": "gray float32 (N,1,H,W) in [0,1] -> rgb float32 (N,3,H,W) in [0,1]",
        "colorbatch_version": __version__,
        "epoch": str(payload["epoch"]),
        "training_metrics": json.dumps(payload.get("metrics", {}), default=float),
        "source_checkpoint": checkpoint.name,
        "source_sha256": file_sha256(checkpoint),
        "precision": precision,
        "terms": terms or DEFAULT_TERMS,
    }


def _check_writable(out: Path) -> None:
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise InvalidPathError(f"cannot write {out}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InvalidPathError(f"cannot write {out}: folder {folder} is not writable")


def _torch_to_onnx(model: torch.nn.Module, path: Path, multiple: int, train_size: int, opset: int) -> None:
    # An example of 2 x 2 blocks keeps every symbolic size above 1, which torch.export would pin.
    side = max(train_size, 2 * multiple)
    example: tuple[torch.Tensor, ...] = (torch.rand(2, 1, side, side),)
    names = ["gray"]
    decoding, hints = predicts_bins(model), takes_hints(model)
    if hints:
        bins = len(model.centres)
        model = WithHintInputs(model)
        example += (torch.ones(1), torch.ones(1), torch.zeros(2, 3, side, side), torch.zeros(2, bins))
        names += [*DECODING_INPUTS, *HINT_INPUTS]
    elif decoding:
        model = WithDecodingInputs(model)
        example += (torch.ones(1), torch.ones(1))
        names += list(DECODING_INPUTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model, example, input_names=names, output_names=["rgb"], dynamo=True,
            dynamic_shapes=_dynamic_shapes(multiple, decoding, hints), opset_version=opset, verbose=False,
        )
    program.save(str(path))


def _finish(path: Path, metadata: dict[str, str], simplify: bool) -> None:
    import onnx

    model = onnx.load(str(path))
    if simplify:
        import onnxscript.optimizer

        model = onnxscript.optimizer.optimize(model)
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name, model.producer_version = "colorbatch", __version__
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path), full_check=True)


def export_checkpoint(checkpoint: Path, out: Path | None = None, opset: int = DEFAULT_OPSET,
                      simplify: bool = True, working_size: int | None = None,
                      real_images: list[np.ndarray] | None = None, test_flip: bool | None = None,
                      vividness_curve: str | list | None = None, default_vividness: float = defaults.EXPORT_VIVIDNESS,
                      min_size: int | None = None, terms: str | None = None) -> ExportResult:
    """Export ``checkpoint`` to ONNX at ``out`` (default: beside it, ``.onnx``), verified.

    ``test_flip`` overrides the checkpoint's flip averaging (chroma models only). A chroma-bins
    model's graph takes its decoding as inputs; ``vividness_curve`` and ``default_vividness`` (see
    ``colorbatch.inference.vividness``) go into its metadata, and ``terms``, what its training data allow.
    Nothing is left at ``out`` when verification fails.
    """
    checkpoint = Path(checkpoint)
    payload = load_checkpoint(checkpoint)
    if test_flip is not None:
        if payload["arch"] not in FLIPPABLE:
            raise ExportError(f"--test-flip applies to {' and '.join(FLIPPABLE)}, not {payload['arch']}")
        payload = {**payload, "arch_kwargs": {**payload["arch_kwargs"], "flip_average": test_flip}}
    model = model_from_checkpoint(payload)
    out = Path(out) if out is not None else checkpoint.with_suffix(".onnx")
    _check_writable(out)
    multiple = int(getattr(model, "size_multiple", 1))
    vividness = None
    if predicts_bins(model):
        curve = parse_curve(vividness_curve) if vividness_curve is not None else DEFAULT_CURVE
        decoding_for(default_vividness, curve)  # checks the default lies in [0, 1]
        vividness = (curve, default_vividness)
    hint_bins = len(model.centres) if takes_hints(model) else None
    metadata = build_metadata(payload, checkpoint, multiple, working_size, vividness=vividness, min_size=min_size,
                              hint_bins=hint_bins, terms=terms)
    try:
        with atomic_path(out) as tmp:  # nothing appears at ``out`` unless verification passes
            _torch_to_onnx(model, tmp, multiple, int(metadata["train_size"]), opset)
            _finish(tmp, metadata, simplify)
            decodings = [decoding_for(v, vividness[0]) for v in (0.0, 1.0)] if vividness else None
            diff, checks = verify_against_torch(model, tmp, int(metadata["train_size"]), multiple, real_images,
                                                decodings)
            if diff > FP32_TOLERANCE:
                raise ExportError(
                    f"verification failed: onnxruntime and PyTorch differ by {diff:.2e} "
                    f"(limit {FP32_TOLERANCE:.0e}); no file written"
                )
    except ExportError:
        raise
    except Exception as exc:  # the exporter and checker raise many types
        raise ExportError(f"export of {checkpoint} failed: {type(exc).__name__}: {str(exc)[:400]}") from None
    return ExportResult(out, diff, checks, metadata)
