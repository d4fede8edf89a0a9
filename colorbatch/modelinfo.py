"""``colorbatch info``: what a model file is, from the file alone."""

from __future__ import annotations

from pathlib import Path

from colorbatch.errors import ModelError
from colorbatch.session import bundled_model_path


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
