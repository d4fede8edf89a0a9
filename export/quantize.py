"""Reduced-precision copies of an exported model: fp16 arithmetic, fp16-stored weights, or int8.

Each copy is checked to run on the CPU provider, then compared with the fp32 model: speed on
this CPU and PSNR on the calibration images (colorized through the same runtime path).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from colorbatch.color import gray_u8
from colorbatch.errors import ExportError, ImageError
from colorbatch.files.atomic import atomic_path
from colorbatch.files.discover import iter_images
from colorbatch.files.imaging import decoded_from_image, read_rgb
from colorbatch.inference.model import ColorModel
from colorbatch.recombine import network_input
from colorbatch.scoring.scores import summarise

CALIBRATION_LIMIT = 256


def calibration_images(folder: Path | None, limit: int = CALIBRATION_LIMIT) -> list[np.ndarray]:
    """Up to ``limit`` uint8 RGB images from ``folder`` (or scikit-image's samples)."""
    if folder is None:
        from colorbatch.samples import sample_images

        return list(sample_images().values())
    images = []
    for path in iter_images(Path(folder)):
        try:
            images.append(read_rgb(path))
        except ImageError:
            continue
        if len(images) >= limit:
            break
    if not images:
        raise ExportError(f"{folder}: no readable calibration images")
    return images


def _network_batches(colorizer: ColorModel, images: list[np.ndarray]) -> list[np.ndarray]:
    """Each image as the runtime feeds it to the network: gray, at the network's size."""
    decoded = [decoded_from_image(gray_u8(rgb)) for rgb in images]
    return [network_input(d.luma, colorizer.shape_for(d.luma))[None] for d in decoded]


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over prepared network inputs, with the
    decoding inputs (``temperature``, ``correction``) of a chroma-bins model at its default."""

    def __init__(self, batches: list[np.ndarray], decoding: dict[str, np.ndarray]) -> None:
        self.items = iter(batches)
        self.decoding = decoding

    def get_next(self):
        batch = next(self.items, None)
        return None if batch is None else {"gray": batch, **self.decoding}


def _set_precision(model, precision: str) -> None:
    for prop in model.metadata_props:
        if prop.key == "precision":
            prop.value = precision
            return
    model.metadata_props.add(key="precision", value=precision)


def write_fp16(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    _set_precision(model, "fp16")
    onnx.save(model, str(target))


def write_fp16_weights(source: Path, target: Path) -> None:
    """Store float weights as fp16, each behind a Cast back to fp32.

    onnxruntime folds those casts when it loads the model, so the file is half the size while the
    arithmetic stays fp32 and as fast; only the weights' rounding to fp16 changes the outputs.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    initializers, casts = [], []
    for tensor in graph.initializer:
        values = numpy_helper.to_array(tensor)
        with np.errstate(over="ignore"):  # values beyond fp16's range become inf and stay fp32 below
            half = values.astype(np.float16) if tensor.data_type == TensorProto.FLOAT else None
        if half is None or values.size < 64 or not np.isfinite(half).all():
            initializers.append(tensor)  # small or out of fp16's range: not worth a Cast
            continue
        initializers.append(numpy_helper.from_array(half, f"{tensor.name}.fp16"))
        casts.append(helper.make_node("Cast", [f"{tensor.name}.fp16"], [tensor.name], to=TensorProto.FLOAT))
    nodes = casts + list(graph.node)
    del graph.initializer[:], graph.node[:]
    graph.initializer.extend(initializers)
    graph.node.extend(nodes)
    _set_precision(model, "fp16-weights")
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


def write_int8(source: Path, target: Path, batches: list[np.ndarray],
               decoding: dict[str, np.ndarray] | None = None) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(_Reader, CalibrationDataReader):
        pass

    quantize_static(str(source), str(target), Reader(batches, decoding or {}), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    model = onnx.load(str(target))
    _set_precision(model, "int8")
    onnx.save(model, str(target))


def _seconds_per_batch(colorizer: ColorModel, side: int, repeats: int = 10) -> float:
    batch = np.random.default_rng(0).random((64, 1, side, side), dtype=np.float32)
    colorizer.model(batch)
    started = time.perf_counter()
    for _ in range(repeats):
        colorizer.model(batch)
    return (time.perf_counter() - started) / repeats


def _mean_psnr(colorizer: ColorModel, images: list[np.ndarray]) -> float:
    """Mean PSNR of the images colorized from their gray copies through the runtime path."""
    outputs = [np.asarray(colorizer.colorize(gray_u8(rgb)).convert("RGB")) for rgb in images]
    value = summarise(outputs, images)["psnr_mean"]
    return float("nan") if value is None else value


def compare(full: ColorModel, variant: Path, images: list[np.ndarray]) -> dict[str, float]:
    """Speed-up and PSNR change of ``variant`` against the fp32 colorizer ``full`` on this CPU."""
    try:
        reduced = ColorModel(str(variant), device="cpu")
    except Exception as exc:  # a model the CPU provider cannot run is an error, not a file
        raise ExportError(f"{variant.name}: the CPU provider cannot run it ({exc})") from None
    side = full.model.info.train_size
    speedup = _seconds_per_batch(full, side) / _seconds_per_batch(reduced, side)
    psnr_fp32, psnr = _mean_psnr(full, images), _mean_psnr(reduced, images)
    return {"speedup": speedup, "psnr_fp32": psnr_fp32, "psnr": psnr, "psnr_change": psnr - psnr_fp32}


def quantize_variants(fp32: Path, fp16: bool, int8: bool, calib: Path | None,
                      fp16_weights: bool = False) -> list[str]:
    """Write the requested copies beside ``fp32`` and describe each; returns report lines."""
    images = calibration_images(calib)
    full = ColorModel(str(fp32), device="cpu")
    lines = []
    jobs = [("fp16", fp16), ("fp16w", fp16_weights), ("int8", int8)]
    for precision, wanted in jobs:
        if not wanted:
            continue
        target = fp32.with_name(f"{fp32.stem}.{precision}.onnx")
        with atomic_path(target) as tmp:  # kept only once it loads and has been compared
            if precision == "fp16":
                write_fp16(fp32, tmp)
            elif precision == "fp16w":
                write_fp16_weights(fp32, tmp)
            else:
                write_int8(fp32, tmp, _network_batches(full, images), full.model.decoding)
            facts = compare(full, tmp, images)
        lines.append(
            f"wrote {target} ({precision}): {facts['speedup']:.2f}x the fp32 speed on this CPU, "
            f"PSNR {facts['psnr']:.2f} dB vs {facts['psnr_fp32']:.2f} dB fp32 "
            f"({facts['psnr_change']:+.3f} dB) on {len(images)} calibration images"
        )
    return lines
