"""A colour model in use: an ONNX model (``session``) with the pre- and post-processing around it
(``recombine``), how inference spreads over the machine (``Streams``), and how to load it again
in another process (``ModelSpec``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from colorbatch.color import rgb_to_chroma
from colorbatch.errors import HintsUnsupportedError, ImageError
from colorbatch.files.imaging import Decoded, decoded_from_image
from colorbatch.hints import hints_from, reference_from, resize_hints
from colorbatch.inference.modelinfo import network_size
from colorbatch.inference.session import ModelSession, no_hint_inputs
from colorbatch.machine import cpu_cores
from colorbatch.recombine import network_input, paint_hints, recombine_chroma


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
    model commits to colour; see ``colorbatch.inference.vividness``. ``threads`` and ``streams``: see
    ``plan_streams``; one session serves every stream (onnxruntime runs concurrent calls).
    """

    def __init__(self, model: str | None = None, device: str = "auto", threads: int | None = None,
                 size: int | None = None, vividness: float | None = None, streams: int | None = None) -> None:
        cpu = plan_streams(threads, streams, on_gpu=False)
        self.model = ModelSession(model, device=device, threads=cpu.threads, vividness=vividness)
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

    def shape_for(self, luma: np.ndarray) -> tuple[int, int]:
        """The network's (height, width) for this luminance."""
        return network_size(*luma.shape, self.model.info, self.size)

    def colorize_same_shape(self, items: Sequence[Decoded]) -> list[np.ndarray]:
        """Colorize images whose network shapes are equal, as one batch; uint8 RGB each."""
        chromas = self.predict_chroma([item.luma for item in items], [item.hints for item in items],
                                      [item.reference for item in items])
        return [paint_hints(recombine_chroma(item.luma, chroma), item.luma, item.hints)
                for item, chroma in zip(items, chromas)]

    def predict_chroma(self, lumas: Sequence[np.ndarray], hints: Sequence[np.ndarray | None] | None = None,
                       references: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray]:
        """The model's chroma for luminances whose network shapes are equal, one batch: ``(h, w, 2)``
        each at the network's size (``recombine_chroma`` lays it onto the luminance). ``hints``
        and ``references`` (hint models), one per luminance or None, as ``Decoded`` holds them."""
        shape = self.shape_for(lumas[0])
        batch = np.stack([network_input(luma, shape) for luma in lumas])
        predicted = self.model(batch, *self._hint_inputs(len(lumas), hints, references, shape))
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

    def _hint_inputs(self, count: int, hints: Sequence | None, references: Sequence | None,
                     shape: tuple[int, int]) -> tuple:
        """The batch's hints ``(N, 3, h, w)`` and references ``(N, Q)``, or () when no item has any."""
        hints = hints or [None] * count
        references = references or [None] * count
        if all(hint is None for hint in hints) and all(reference is None for reference in references):
            return ()
        self.require_hints()
        none = np.zeros((3, *shape), np.float32)
        hint_planes = np.stack([none if hint is None else resize_hints(hint, shape).transpose(2, 0, 1)
                                for hint in hints])
        empty = np.zeros(self.model.info.reference_bins, np.float32)
        return hint_planes, np.stack([empty if reference is None else reference for reference in references])

    def colorize(self, image, hints=None, reference=None) -> Image.Image:
        """Colorize one PIL image or numpy array (gray ``(H, W)`` or RGB ``(H, W, 3)``, uint8/uint16/float).

        A hint model also takes ``hints``, a hint image (a path, a PIL image with transparency, or an
        RGBA array ``(H, W, 4)`` of uint8 or uint16, read as if from a file; see ``colorbatch.hints``),
        and ``reference``, a colour photo (a path, a PIL image, or an RGB array ``(H, W, 3)`` of
        uint8, uint16 or float in [0, 1]); anything else raises ``HintError`` saying what was expected."""
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
