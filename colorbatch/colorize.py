"""From luminance to colour with a model: the network size, the resize in, the recombination out.

The network sees the image at its working size; the predicted colour is taken as chroma,
upsampled to the original size and recombined with the original full-resolution luminance, so
every output has its input's size and brightness, whatever the model outputs.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from colorbatch.color import chroma_to_rgb_u8, rgb_to_chroma
from colorbatch.errors import HintsUnsupportedError, ImageError
from colorbatch.hints import hints_from, reference_from, resize_hints
from colorbatch.imaging import Decoded, decoded_from_image
from colorbatch.modelinfo import ModelInfo
from colorbatch.session import OnnxColorModel, no_hint_inputs
from colorbatch.upsample import GuidedUpsampler

STRIP_ROWS = 32  # rows per strip of the bicubic recombination: its temporaries stay in cache
GUIDED_BAND_ROWS = 64  # rows per band of the guided one (each band resizes four coefficient planes)
PARALLEL_PIXELS = 1 << 18  # smaller images are recombined on the calling thread
SEQUENTIAL_UPSAMPLE_PIXELS = 1 << 25  # larger ones upsample their two chroma planes one after the other


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


def _resize(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if plane.shape == shape:
        return plane
    image = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), mode="F")
    return np.asarray(image.resize((shape[1], shape[0]), Image.Resampling.BICUBIC), dtype=np.float32)


def network_input(luma: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Luminance resized to the network's shape, as ``(1, H, W)`` float32 in [0, 1]."""
    return np.clip(_resize(luma, shape), 0.0, 1.0)[None]


def recombine(luma: np.ndarray, rgb_net: np.ndarray) -> np.ndarray:
    """Network RGB ``(3, h, w)`` + full luminance ``(H, W)`` -> uint8 RGB ``(H, W, 3)``."""
    return recombine_chroma(luma, rgb_to_chroma(np.moveaxis(rgb_net, 0, -1)))


def recombine_chroma(luma: np.ndarray, chroma: np.ndarray, upsampling: str = "guided") -> np.ndarray:
    """Chroma ``(h, w, 2)`` at any size + full luminance ``(H, W)`` -> uint8 RGB ``(H, W, 3)``.

    ``upsampling``: "guided" (the default) follows the luminance's edges (``colorbatch.upsample``);
    "bicubic" stretches the chroma as it is. A large image is upsampled and converted in bands of
    rows spread over the cores (numpy, scipy and Pillow release the GIL), so a 6-megapixel scan
    does not hold up the pipeline's other stages for a second on one core, and no full-size
    chroma plane is ever held.
    """
    if upsampling == "bicubic":
        return _recombine_bicubic(luma, chroma)
    out = np.empty((*luma.shape, 3), dtype=np.uint8)
    upsampler = GuidedUpsampler(luma, chroma)

    def band(rows: slice) -> None:
        cb, cr = upsampler.rows(rows)
        chroma_to_rgb_u8(luma[rows], cb, cr, out[rows])

    if luma.size < PARALLEL_PIXELS:
        band(slice(0, luma.shape[0]))
    else:
        for _ in _recombine_pool().map(band, _bands(luma.shape[0], GUIDED_BAND_ROWS)):
            pass
    return out


def lay_chroma(luma: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """Chroma ``(..., 2)`` on luminance ``(...)`` of the same size, pixel for pixel (no upsampling
    filter): uint8 RGB ``(..., 3)``."""
    out = np.empty((*luma.shape, 3), np.uint8)
    chroma_to_rgb_u8(luma, np.ascontiguousarray(chroma[..., 0]), np.ascontiguousarray(chroma[..., 1]), out)
    return out


def paint_hints(rgb: np.ndarray, item: Decoded) -> np.ndarray:
    """``rgb`` (uint8, at the item's size) with each hinted pixel given its hint's chroma at full
    resolution (and its own luminance): a dab means this colour here, however small it is at the
    network's size."""
    if item.hints is None:
        return rgb
    mask = item.hints[..., 2] > 0
    if mask.any():
        rgb[mask] = lay_chroma(item.luma[mask], item.hints[mask, :2])
    return rgb


def _bands(height: int, rows: int) -> list[slice]:
    return [slice(top, min(height, top + rows)) for top in range(0, height, rows)]


def _recombine_bicubic(luma: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    out = np.empty((*luma.shape, 3), dtype=np.uint8)
    if luma.size < PARALLEL_PIXELS:
        cb, cr = (_resize(chroma[..., c], luma.shape) for c in range(2))
        chroma_to_rgb_u8(luma, cb, cr, out)
        return out
    pool = _recombine_pool()
    planes = [np.ascontiguousarray(chroma[..., c]) for c in range(2)]
    if luma.size < SEQUENTIAL_UPSAMPLE_PIXELS:
        cb, cr = pool.map(lambda plane: _resize(plane, luma.shape), planes)
    else:  # each upsample briefly holds two copies of its plane: one at a time bounds the peak
        cb, cr = (_resize(plane, luma.shape) for plane in planes)
    for _ in pool.map(lambda rows: chroma_to_rgb_u8(luma[rows], cb[rows], cr[rows], out[rows]),
                      _bands(luma.shape[0], STRIP_ROWS)):
        pass
    return out


def cpu_cores() -> int:
    """The cores this process may run on (its affinity mask, which batch systems set)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def _recombine_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(cpu_cores(), "recombine")


@dataclass(frozen=True)
class Streams:
    """How inference uses the machine: ``count`` batches run at once, each on ``threads`` of
    onnxruntime's intra-op threads."""

    count: int
    threads: int


def plan_streams(threads: int | None, streams: int | None, on_gpu: bool) -> Streams:
    """On CPU, one stream per core, each with one thread, unless told otherwise: batches of small
    images scale poorly over intra-op threads, so parallel batches keep every core busy where one
    multi-threaded batch leaves them waiting (benchmarks/run_throughput.py measures it). On a GPU
    one stream with large batches is what the device needs. ``threads`` is the CPU threads for
    inference in all (default: every core), ``streams`` how many batches run at once."""
    total = threads or cpu_cores()
    count = streams or (1 if on_gpu else total)
    return Streams(count, max(1, total // count))


@dataclass(frozen=True)
class ModelSpec:
    """How to load a ``ColorModel`` again in another process (a cluster worker): its arguments,
    with the model file as an absolute path (None: the bundled model of that installation)."""

    model: str | None = None
    device: str = "auto"
    threads: int | None = None
    size: int | None = None
    vividness: float | None = None
    streams: int | None = None


class ColorModel:
    """A model plus the pre- and post-processing around it: images in, colour images out
    (``colorbatch.Colorizer`` adds running it over folders).

    ``vividness`` (0 to 1; chroma-bins models only, default the model's own) sets how boldly the
    model commits to colour; see ``colorbatch.vividness``. ``threads`` and ``streams``: see
    ``plan_streams``; one session serves every stream (onnxruntime runs concurrent calls).
    """

    def __init__(self, model: str | None = None, device: str = "auto", threads: int | None = None,
                 size: int | None = None, vividness: float | None = None, streams: int | None = None) -> None:
        cpu = plan_streams(threads, streams, on_gpu=False)
        self.model = OnnxColorModel(model, device=device, threads=cpu.threads, vividness=vividness)
        on_gpu = self.model.provider != "CPUExecutionProvider"
        self.streams = plan_streams(threads, streams, on_gpu) if on_gpu else cpu
        self.size = size
        self.spec = ModelSpec(str(Path(model).resolve()) if model is not None else None, device, threads, size,
                              vividness, streams)

    @property
    def vividness(self) -> float | None:
        return self.model.vividness

    @property
    def provider(self) -> str:
        return self.model.provider

    def shape_for(self, decoded: Decoded) -> tuple[int, int]:
        return network_size(*decoded.luma.shape, self.model.info, self.size)

    def colorize_same_shape(self, items: Sequence[Decoded]) -> list[np.ndarray]:
        """Colorize images whose network shapes are equal, as one batch; uint8 RGB each."""
        return [paint_hints(recombine_chroma(item.luma, chroma), item)
                for item, chroma in zip(items, self.predict_chroma(items))]

    def predict_chroma(self, items: Sequence[Decoded]) -> list[np.ndarray]:
        """The model's chroma for images whose network shapes are equal, one batch: ``(h, w, 2)``
        each at the network's size (``recombine_chroma`` lays it onto the luminance)."""
        shape = self.shape_for(items[0])
        batch = np.stack([network_input(item.luma, shape) for item in items])
        predicted = self.model(batch, *self._hint_inputs(items, shape))
        if not np.isfinite(predicted).all():
            # never an output file: the pipeline retries the batch image by image, and each image
            # whose colours are not finite fails with this reason
            raise ImageError("the model produced non-finite values (NaN or infinity)")
        return [rgb_to_chroma(np.moveaxis(rgb, 0, -1)) for rgb in predicted]

    @property
    def takes_hints(self) -> bool:
        return self.model.info.takes_hints

    def require_hints(self) -> None:
        """Raise ``HintsUnsupportedError`` unless the model takes hints."""
        if not self.takes_hints:
            raise HintsUnsupportedError(no_hint_inputs(self.model.path))

    def _hint_inputs(self, items: Sequence[Decoded], shape: tuple[int, int]) -> tuple:
        """The batch's hints ``(N, 3, h, w)`` and references ``(N, Q)``, or () when no item has any."""
        if all(item.hints is None and item.reference is None for item in items):
            return ()
        self.require_hints()
        none = np.zeros((3, *shape), np.float32)
        hints = np.stack([none if item.hints is None else resize_hints(item.hints, shape).transpose(2, 0, 1)
                          for item in items])
        empty = np.zeros(self.model.info.reference_bins, np.float32)
        references = np.stack([empty if item.reference is None else item.reference for item in items])
        return hints, references

    def colorize(self, image, hints=None, reference=None) -> Image.Image:
        """Colorize one PIL image or numpy array (gray ``(H, W)`` or RGB ``(H, W, 3)``, uint8/uint16/float).

        A hint model also takes ``hints`` (a hint image: a path or an RGBA PIL image, see
        ``colorbatch.hints``) and ``reference`` (a colour photo: a path, a PIL image or an RGB array)."""
        decoded = decoded_from_image(image)
        if hints is not None or reference is not None:
            self.require_hints()
            height, width = decoded.luma.shape
            decoded = replace(decoded, hints=None if hints is None else hints_from(hints, (width, height)),
                              reference=None if reference is None else reference_from(reference))
        rgb = self.colorize_same_shape([decoded])[0]
        result = Image.fromarray(rgb, "RGB")
        if decoded.alpha is not None:
            result.putalpha(Image.fromarray(decoded.alpha, "L"))
        return result
