"""Reduced-precision copies of an exported model: fp16 weights, or static QDQ int8.

Each copy is checked to run on the CPU provider, then compared with the fp32 model: speed on
this CPU and PSNR on the calibration images (colorized through the same runtime path).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from colorbatch.color import gray_u8
from colorbatch.colorize import Colorizer, network_input
from colorbatch.discover import iter_images
from colorbatch.errors import ExportError, ImageError
from colorbatch.imaging import decoded_from_image, read_rgb
from colorbatch.summary import summarise

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


def _network_batches(colorizer: Colorizer, images: list[np.ndarray]) -> list[np.ndarray]:
    """Each image as the runtime feeds it to the network: gray, at the network's size."""
    decoded = [decoded_from_image(gray_u8(rgb)) for rgb in images]
    return [network_input(d.luma, colorizer.shape_for(d))[None] for d in decoded]


class _Reader:
    """onnxruntime's CalibrationDataReader protocol over prepared network inputs."""

    def __init__(self, batches: list[np.ndarray]) -> None:
        self.items = iter(batches)

    def get_next(self):
        batch = next(self.items, None)
        return None if batch is None else {"gray": batch}


def write_fp16(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    meta = {p.key: p.value for p in model.metadata_props}
    meta["precision"] = "fp16"
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(target))


def write_int8(source: Path, target: Path, batches: list[np.ndarray]) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(_Reader, CalibrationDataReader):
        pass

    quantize_static(str(source), str(target), Reader(batches), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    model = onnx.load(str(target))
    for prop in model.metadata_props:
        if prop.key == "precision":
            prop.value = "int8"
    onnx.save(model, str(target))


def _seconds_per_batch(colorizer: Colorizer, side: int, repeats: int = 10) -> float:
    batch = np.random.default_rng(0).random((64, 1, side, side), dtype=np.float32)
    colorizer.model(batch)
    started = time.perf_counter()
    for _ in range(repeats):
        colorizer.model(batch)
    return (time.perf_counter() - started) / repeats


def _mean_psnr(colorizer: Colorizer, images: list[np.ndarray]) -> float:
    """Mean PSNR of the images colorized from their gray copies through the runtime path."""
    outputs = [np.asarray(colorizer.colorize(gray_u8(rgb)).convert("RGB")) for rgb in images]
    value = summarise(outputs, images)["psnr_mean"]
    return float("nan") if value is None else value


def compare(full: Colorizer, variant: Path, images: list[np.ndarray]) -> dict[str, float]:
    """Speed-up and PSNR change of ``variant`` against the fp32 colorizer ``full`` on this CPU."""
    try:
        reduced = Colorizer(str(variant), device="cpu")
    except Exception as exc:  # a model the CPU provider cannot run is an error, not a file
        raise ExportError(f"{variant.name}: the CPU provider cannot run it ({exc})") from None
    side = full.model.info.train_size
    speedup = _seconds_per_batch(full, side) / _seconds_per_batch(reduced, side)
    psnr_fp32, psnr = _mean_psnr(full, images), _mean_psnr(reduced, images)
    return {"speedup": speedup, "psnr_fp32": psnr_fp32, "psnr": psnr, "psnr_change": psnr - psnr_fp32}


def quantize_variants(fp32: Path, fp16: bool, int8: bool, calib: Path | None) -> list[str]:
    """Write the requested copies beside ``fp32`` and describe each; returns report lines."""
    images = calibration_images(calib)
    full = Colorizer(str(fp32), device="cpu")
    lines = []
    jobs = [("fp16", fp16), ("int8", int8)]
    for precision, wanted in jobs:
        if not wanted:
            continue
        target = fp32.with_name(f"{fp32.stem}.{precision}.onnx")
        tmp = target.with_name(f".{target.name}.partial.onnx")
        try:
            if precision == "fp16":
                write_fp16(fp32, tmp)
            else:
                write_int8(fp32, tmp, _network_batches(full, images))
            facts = compare(full, tmp, images)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        lines.append(
            f"wrote {target} ({precision}): {facts['speedup']:.2f}x the fp32 speed on this CPU, "
            f"PSNR {facts['psnr']:.2f} dB vs {facts['psnr_fp32']:.2f} dB fp32 "
            f"({facts['psnr_change']:+.3f} dB) on {len(images)} calibration images"
        )
    return lines
