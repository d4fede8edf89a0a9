"""What a model file says about itself: where the bundled one is, ``ModelInfo`` (the metadata the
runtime reads: sizes, decoding, hint inputs) and ``describe`` (everything ``colorbatch info`` shows).
Nothing here runs a model."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from colorbatch.errors import ModelError
from colorbatch.inference.vividness import CurveError, parse_curve

BUNDLED_MODEL = "colorbatch-default.onnx"


def bundled_model_path() -> Path:
    """The ONNX model shipped inside the package."""
    path = Path(str(resources.files("colorbatch") / "models" / BUNDLED_MODEL))
    if not path.is_file():
        raise ModelError(
            f"no bundled model at {path}: this build of colorbatch ships without one; "
            f"pass --model PATH (train one with 'colorbatch train', export with 'colorbatch export')"
        )
    return path


@dataclass
class ModelInfo:
    """What the runtime needs from a model's ``metadata_props``."""

    arch: str = "unknown"
    train_size: int = 32
    working_size: int = 32
    min_size: int | None = None  # smaller inputs are scaled up to this short side; None: train_size
    size_multiple: int = 1
    # chroma-bins models: decoding inputs, the vividness curve and the vividness used by default
    vividness_curve: tuple | None = None
    default_vividness: float | None = None
    # hint models: the length of the reference input (the model's chroma bins); None: no hint inputs
    reference_bins: int | None = None

    @property
    def takes_hints(self) -> bool:
        return self.reference_bins is not None

    def __post_init__(self) -> None:
        if self.min_size is None:
            self.min_size = self.train_size

    @classmethod
    def from_metadata(cls, props: dict[str, str]) -> ModelInfo:
        def number(key: str, default: int) -> int:
            try:
                return int(props.get(key, default))
            except ValueError:
                raise ModelError(f"model metadata {key}={props[key]!r} is not an integer") from None

        train_size = number("train_size", 32)
        curve, default = None, None
        if "vividness_curve" in props:
            try:
                curve = parse_curve(props["vividness_curve"])
                default = float(props.get("default_vividness", 0.0))
            except (CurveError, ValueError) as exc:
                raise ModelError(f"model metadata vividness_curve/default_vividness: {exc}") from None
        return cls(
            arch=props.get("arch", "unknown"),
            train_size=train_size,
            working_size=number("working_size", train_size),
            min_size=number("min_size", train_size),
            size_multiple=number("size_multiple", 1),
            vividness_curve=curve,
            default_vividness=default,
            reference_bins=(number("reference_bins", 0) or None) if "hint_inputs" in props else None,
        )


def describe(path: Path | None = None) -> dict[str, str]:
    """Metadata, inputs/outputs, opset, file size and parameter count of an ONNX model."""
    import numpy as np
    import onnx

    path = Path(path) if path is not None else bundled_model_path()
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf decode errors have several types
        raise ModelError(f"{path}: not an ONNX model ({type(exc).__name__})") from None

    def shape(value) -> str:
        dims = [d.dim_param or str(d.dim_value) for d in value.type.tensor_type.shape.dim]
        return f"{value.name} ({', '.join(dims)})"

    parameters = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    facts = {
        "file": str(path),
        "size": f"{path.stat().st_size / 1e6:.2f} MB",
        "opset": ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import),
        "inputs": "; ".join(shape(v) for v in model.graph.input),
        "outputs": "; ".join(shape(v) for v in model.graph.output),
        "parameters": f"{parameters:,}",
    }
    facts.update({prop.key: prop.value for prop in model.metadata_props})
    return facts


def network_size(height: int, width: int, info: ModelInfo, size: int | None = None) -> tuple[int, int]:
    """The (height, width) the network runs at for an input of this size.

    ``size`` (``--size``) sets the short side for every input. Otherwise inputs larger than the
    working size get their short side scaled down to it, inputs smaller than the model's minimum
    size (its training size unless exported with ``--min-size``) get it scaled up to that (a
    model trained on 64 px photos sees a 32 px thumbnail at the scale it learned), and the rest
    run as they are; aspect is kept and sides are rounded to the model's size multiple.
    """
    short = min(height, width)
    if size:
        target = size
    elif short > info.working_size:
        target = info.working_size
    elif short < info.min_size:
        target = info.min_size
    else:
        target = short
    scale = target / short
    multiple = max(1, info.size_multiple)

    def side(n: int) -> int:
        return max(multiple, round(n * scale / multiple) * multiple)

    return side(height), side(width)
