"""Recombination of one 3000x2000 scan: the previous code against the new, in one run.

    python benchmarks/recombine.py [--rounds 5]

Recombination lays the network's chroma onto the full-resolution luminance: bicubic chroma
upsample, colour conversion, gamut fit, rounding. The previous code (`previous` below, the body of
recombine before the change, built from the same shared functions) ran on one thread with
image-sized temporaries; the new one (colorbatch.recombine.recombine) upsamples one plane per thread and
converts in strips over the cores; both must give the same bytes. The default recombination
(the guided filter of colorbatch.upsample, which follows the luminance's edges) is timed beside
them: the bar is <= 0.25 s on the bundled model's colours for the scan (the vivid stand-in is
reported beside it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import write_results
from PIL import Image

from colorbatch.color import chroma_to_rgb, rgb_to_chroma, to_uint8
from colorbatch.inference.model import ColorModel
from colorbatch.inference.modelinfo import network_size
from colorbatch.machine import cpu_cores
from colorbatch.recombine import _resize, network_input, recombine, recombine_chroma
from colorbatch.samples import sample_images


def previous(luma: np.ndarray, rgb_net: np.ndarray) -> np.ndarray:
    chroma = rgb_to_chroma(np.moveaxis(rgb_net, 0, -1))
    chroma = np.stack([_resize(chroma[..., c], luma.shape) for c in range(2)], axis=-1)
    out = np.empty((*luma.shape, 3), dtype=np.uint8)
    for top in range(0, luma.shape[0], 512):
        rows = slice(top, top + 512)
        out[rows] = to_uint8(chroma_to_rgb(luma[rows], chroma[rows]))
    return out


def _scan() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 3000x2000 luminance (scikit-image's coffee photo scaled up), the bundled model's prediction
    for it (what `colorbatch run` recombines), and a vivid stand-in with colours well past the
    gamut's edge, where the exact gamut fit has the most pixels to move."""
    photo = Image.fromarray(sample_images(("coffee",))["coffee"])
    luma = np.asarray(photo.convert("L").resize((3000, 2000), Image.Resampling.BICUBIC), dtype=np.float32) / 255
    model = ColorModel(device="cpu")
    predicted = model.model(network_input(luma, network_size(*luma.shape, model.model.info))[None])[0]
    small = np.asarray(photo.resize((96, 64), Image.Resampling.BICUBIC), dtype=np.float32) / 255
    vivid = np.clip((small - small.mean(axis=-1, keepdims=True)) * 1.6 + small.mean(axis=-1, keepdims=True), 0, 1)
    return luma, predicted, np.ascontiguousarray(np.moveaxis(vivid, -1, 0))


def _best(fn, *args, rounds: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - started)
    return min(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    luma, predicted, vivid = _scan()
    rows, checks = [], {}
    for case, rgb_net in (("the bundled model's colours", predicted), ("vivid stand-in", vivid)):
        chroma = rgb_to_chroma(np.moveaxis(rgb_net, 0, -1))
        checks[f"identical_bytes bicubic ({case})"] = bool(np.array_equal(
            previous(luma, rgb_net), recombine_chroma(luma, chroma, upsampling="bicubic")))
        timings = [("previous (bicubic, one thread)", *_best(previous, luma, rgb_net, rounds=args.rounds)),
                   (f"bicubic ({cpu_cores()} cores)",
                    *_best(recombine_chroma, luma, chroma, "bicubic", rounds=args.rounds)),
                   (f"guided, the default ({cpu_cores()} cores)", *_best(recombine, luma, rgb_net, rounds=args.rounds))]
        rows += [{"colours": case, "code": name, "pixels": luma.size, "best s": best,
                  "ns per pixel": best / luma.size * 1e9, "rounds": ", ".join(f"{t:.3f}" for t in times)}
                 for name, best, times in timings]
        checks[f"default_over_previous ({case})"] = timings[2][1] / timings[0][1]
        checks[f"default_within_0.25s ({case})"] = timings[2][1] <= 0.25
    write_results("recombine", rows, {"checks": checks})
    for key, value in checks.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
