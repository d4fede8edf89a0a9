"""Does a dab stay in its object? Containment and fill of one dab per CBSD68 photo (issue 46).

    git --git-dir /work/.mirror/BIDS+BSDS500/repo archive HEAD BSDS500/data/groundTruth/val | tar x -C data/
    python benchmarks/containment.py [--model M.onnx] [--name containment]

CBSD68's 68 photos are BSDS500's `val` set; `BSDS500/data/groundTruth/val/<id>.mat` (BIDS/BSDS500,
brought by the library's `fetch`) holds several people's segmentations of each: the one with the
median number of segments is taken (the lower middle when their number is even). For each photo,
with a fixed seed: one segment of at least 2 % of the photo, drawn among those that can hold a
7 x 7 px dab at least 8 px from the segment's border (the photo's edge counts as a border), and a
position there. The dab's colour is unlike the automatic output's at that place: its mean chroma
turned by 180 degrees, its magnitude raised to at least 40 levels of Cb/Cr, on the photo's own
luminance (laid on as the runtime lays a hint's chroma). With d = |chroma(with the dab) -
chroma(automatic)| at each pixel:
- containment: the sum of d inside the dab's segment over the sum of d everywhere (1: nothing leaks);
- fill: the mean d over the segment over the mean d at the dab (1: the whole object takes it).
Both go through `Colorizer.colorize` (the bundled model, CPU), as `run --hints` does. Writes
benchmarks/results/NAME.{md,json} (per photo and the medians) and NAME_gallery.png: gray with the
dab and the segment's outline | automatic | with the dab | d.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import DATA, RESULTS, extracted, write_results
from PIL import Image, ImageDraw
from scipy import io as scipy_io
from scipy import ndimage

from colorbatch.color import gray_u8, rgb_to_chroma, to_float
from colorbatch.recombine import lay_chroma

SEGMENTATIONS = DATA / "BSDS500" / "data" / "groundTruth" / "val"
DAB = 7
MARGIN = 8  # px of the segment between the dab and the segment's border
MIN_SHARE = 0.02  # of the photo
MIN_CHROMA = 40 / 255  # the dab's chroma magnitude, at least
SEED = 46
GALLERY_EVERY = 11  # a fixed sample for the gallery: every n-th photo in sorted order
GALLERY_HEIGHT = 180


def segmentation(mat: Path) -> np.ndarray:
    """The labels (H, W) of the person whose segmentation has the median number of segments."""
    people = [truth["Segmentation"][0, 0] for truth in scipy_io.loadmat(str(mat))["groundTruth"][0]]
    counts = [len(np.unique(labels)) for labels in people]
    return people[int(np.argsort(counts, kind="stable")[(len(people) - 1) // 2])]


def place_dab(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    """(the chosen segment's mask, the dab's top-left corner)."""
    reach = DAB // 2 + MARGIN + 1  # chessboard distance from the dab's centre to the nearest outside pixel
    candidates = []
    for label in np.unique(labels):
        mask = labels == label
        if mask.mean() < MIN_SHARE:
            continue
        inside = ndimage.distance_transform_cdt(np.pad(mask, 1), metric="chessboard")[1:-1, 1:-1]
        centres = np.argwhere(inside >= reach + DAB // 2)
        if len(centres):
            candidates.append((mask, centres))
    mask, centres = candidates[int(rng.integers(len(candidates)))]
    y, x = centres[int(rng.integers(len(centres)))]
    return mask, (int(y) - DAB // 2, int(x) - DAB // 2)


def opposite_dab(gray: np.ndarray, automatic: np.ndarray, corner: tuple[int, int]) -> np.ndarray:
    """An RGBA hint image with one dab: the automatic chroma there turned by 180 degrees, at least
    MIN_CHROMA strong, on the photo's own luminance."""
    top, left = corner
    window = (slice(top, top + DAB), slice(left, left + DAB))
    chroma = rgb_to_chroma(to_float(automatic[window])).reshape(-1, 2).mean(axis=0)
    magnitude = float(np.hypot(*chroma))
    turned = -chroma if magnitude > 1e-6 else np.array([1.0, 0.0], np.float32)
    turned = turned / max(float(np.hypot(*turned)), 1e-6) * max(magnitude, MIN_CHROMA)
    luma = to_float(gray[window])
    rgb = lay_chroma(luma, np.broadcast_to(turned.astype(np.float32), (*luma.shape, 2)).copy())
    hint = np.zeros((*gray.shape, 4), np.uint8)
    hint[window] = np.concatenate([rgb, np.full((*luma.shape, 1), 255, np.uint8)], axis=-1)
    return hint


def measure(colorizer, photo: Path, labels: np.ndarray, rng: np.random.Generator) -> dict:
    gray = gray_u8(np.asarray(Image.open(photo).convert("RGB")))
    assert labels.shape == gray.shape, (photo, labels.shape, gray.shape)
    mask, corner = place_dab(labels, rng)
    automatic = np.asarray(colorizer.colorize(gray))
    hint = opposite_dab(gray, automatic, corner)
    dabbed = np.asarray(colorizer.colorize(gray, hints=hint))
    d = np.linalg.norm(rgb_to_chroma(to_float(dabbed)) - rgb_to_chroma(to_float(automatic)), axis=-1)
    at_dab = hint[..., 3] > 0
    return {"photo": photo.stem, "segment share": float(mask.mean()), "containment": float(d[mask].sum() / d.sum()),
            "fill": float(d[mask].mean() / d[at_dab].mean()), "_images": (gray, automatic, dabbed, d, mask, at_dab)}


def gallery(measured: list[dict], path: Path) -> None:
    import matplotlib

    rows = []
    for item in measured[::GALLERY_EVERY]:
        gray, automatic, dabbed, d, mask, at_dab = item["_images"]
        marked = Image.fromarray(gray).convert("RGB")
        outline = mask & ~ndimage.binary_erosion(mask, iterations=2)
        pixels = np.asarray(marked).copy()
        pixels[outline] = (255, 220, 0)
        pixels[at_dab] = dabbed[at_dab]
        ys, xs = np.nonzero(at_dab)
        marked = Image.fromarray(pixels)
        box = (xs.min() - 3, ys.min() - 3, xs.max() + 3, ys.max() + 3)
        ImageDraw.Draw(marked).rectangle(box, outline=(255, 0, 255))
        scale = max(float(d[at_dab].mean()), 1e-6)
        heat = (matplotlib.colormaps["magma"](np.clip(d / scale, 0, 1))[..., :3] * 255).astype(np.uint8)
        tiles = [marked, Image.fromarray(automatic), Image.fromarray(dabbed), Image.fromarray(heat)]
        width = round(gray.shape[1] * GALLERY_HEIGHT / gray.shape[0])
        rows.append([tile.resize((width, GALLERY_HEIGHT), Image.Resampling.LANCZOS) for tile in tiles])
    width = max(sum(t.width for t in row) + 3 * 4 for row in rows)
    sheet = Image.new("RGB", (width, len(rows) * (GALLERY_HEIGHT + 4)), "white")
    for r, row in enumerate(rows):
        x = 0
        for tile in row:
            sheet.paste(tile, (x, r * (GALLERY_HEIGHT + 4)))
            x += tile.width + 4
    sheet.save(path)


def containment(model: str | None = None, name: str = "containment") -> dict:
    """Measure the protocol; write the results and the gallery; return the medians."""
    from colorbatch.api import Colorizer

    if not SEGMENTATIONS.is_dir():
        raise SystemExit(f"no segmentations in {SEGMENTATIONS}: see this script's docstring for the command")
    colorizer = Colorizer(model, device="cpu")
    truth = extracted("photos-eval/cbsd68", "photos-eval.tar")
    rng = np.random.default_rng(SEED)
    measured = [measure(colorizer, photo, segmentation(SEGMENTATIONS / f"{photo.stem}.mat"), rng)
                for photo in sorted(truth.glob("*.png"))]
    gallery(measured, RESULTS / f"{name}_gallery.png")
    medians = {key: float(np.median([m[key] for m in measured])) for key in ("containment", "fill", "segment share")}
    rows = [{"photo": "median", **medians}] + [{k: v for k, v in m.items() if not k.startswith("_")} for m in measured]
    write_results(name, rows, {"model": model or "bundled", "protocol": __doc__.split("\n\n")[2], "seed": SEED})
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="ONNX model (default: the bundled one)")
    parser.add_argument("--name", default="containment", help="results name (benchmarks/results/NAME.md)")
    args = parser.parse_args()
    print(containment(args.model, args.name))


if __name__ == "__main__":
    main()
