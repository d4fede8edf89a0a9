"""Reports of ``score`` and ``run``: ``.json`` (definitions, aggregate, per-image rows), ``.csv`` (per-image rows)
or ``.html`` (a self-contained page: summary, PSNR histogram, thumbnails of worst, best and a
random sample). Rows stream in; memory stays bounded (a spool file, fixed-size picks)."""

from __future__ import annotations

import base64
import csv
import heapq
import html
import io
import json
import math
import random
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from PIL import Image

from colorbatch.color import gray_u8
from colorbatch.errors import printable
from colorbatch.files.atomic import atomic_path, write_atomic
from colorbatch.files.imaging import encode, read_rgb
from colorbatch.scoring.metrics import DEFINITIONS
from colorbatch.scoring.scores import AGGREGATE_BY_KEY, ImageScore

REPORT_SUFFIXES = (".json", ".csv", ".html")
SCORE_FIELDS = ("psnr", "ssim", "colourfulness", "colourfulness_truth", "hue_hits")  # an image's scores in its row
ROW_FIELDS = ("image", "status", "reason", *SCORE_FIELDS,
              "baseline_psnr", "baseline_ssim", "prediction", "truth", "error")
THUMBS = 8
MAX_FAILURES_SHOWN = 200
THUMB_SIDE = 200
HIST_RANGE = (10, 50)


def _clean(value: Any) -> Any:
    """A value JSON can hold: non-finite floats (PSNR of identical images) as "inf", "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def score_columns(score: ImageScore | None, baseline: ImageScore | None = None) -> dict:
    """An image's scores as the columns of its report row (blank when it was not scored), the
    same for ``run --truth`` and ``score``; with ``baseline``, its no-colour scores too."""
    columns = {name: None if score is None else getattr(score, name) for name in SCORE_FIELDS}
    if baseline is not None:
        columns.update(baseline_psnr=baseline.psnr, baseline_ssim=baseline.ssim)
    return columns


def check_report_path(path: Path) -> None:
    from colorbatch.errors import InvalidPathError

    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise InvalidPathError(f"report {path}: use a .json, .csv or .html name")
    if not path.parent.exists():
        raise InvalidPathError(f"report {path}: folder {path.parent} does not exist")


class ReportWriter:
    def __init__(self, path: Path, seed: int = 0) -> None:
        self.path = Path(path)
        check_report_path(self.path)
        self.kind = self.path.suffix.lower()
        self.spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self.worst: list[tuple[float, int, dict]] = []
        self.best: list[tuple[float, int, dict]] = []
        self.sample: list[dict] = []
        self.few: list[dict] = []  # every scored item while there are at most 3 x THUMBS
        self.unscored: list[dict] = []  # run without --truth: input | output pairs to show
        self.failures: list[tuple[str, str]] = []
        self.seen = 0
        self.rng = random.Random(seed)
        self.histogram = np.zeros(HIST_RANGE[1] - HIST_RANGE[0] + 2, dtype=np.int64)

    def add(self, row: dict) -> None:
        """One image's row. Names are data: stored with ``printable`` escapes (the raw paths are
        kept only in memory, to read thumbnails)."""
        shown = {k: printable(v) if isinstance(v, str) else _clean(v) for k, v in row.items() if k in ROW_FIELDS}
        self.spool.write(json.dumps(shown) + "\n")
        if self.kind != ".html":
            return
        reason = row.get("error") or (row.get("reason") if row.get("status") == "failed" else None)
        if reason and len(self.failures) < MAX_FAILURES_SHOWN:
            self.failures.append((shown.get("image", ""), printable(reason)))
        psnr = row.get("psnr")
        if psnr is not None:
            self.seen += 1
            self._pick({**row, "image": shown["image"], "source": row.get("input")}, psnr)
        elif row.get("status") == "done" and len(self.unscored) < THUMBS:
            self.unscored.append({"image": shown["image"], "source": row.get("input"),
                                  "prediction": row["prediction"]})

    def _pick(self, row: dict, psnr: float) -> None:
        top = len(self.histogram) - 1  # the last bin holds >= HIST_RANGE[1] dB, identical images included
        bin_index = 0 if psnr < HIST_RANGE[0] else top if psnr >= HIST_RANGE[1] else int(psnr) - HIST_RANGE[0] + 1
        self.histogram[bin_index] += 1
        item = {k: row.get(k) for k in ("image", "source", "psnr", "ssim", "prediction", "truth")}
        heapq.heappush(self.worst, (-psnr, self.seen, item))
        if len(self.worst) > THUMBS:
            heapq.heappop(self.worst)
        if math.isfinite(psnr):
            heapq.heappush(self.best, (psnr, self.seen, item))
            if len(self.best) > THUMBS:
                heapq.heappop(self.best)
        if len(self.few) <= 3 * THUMBS:
            self.few.append(item)
        if len(self.sample) < THUMBS:
            self.sample.append(item)
        elif (j := self.rng.randrange(self.seen)) < THUMBS:
            self.sample[j] = item

    def _all_scored(self) -> list[dict]:
        """Every scored image's item, worst first (only used when there are few)."""
        return sorted(self.few, key=lambda item: item["psnr"])

    def _rows(self):
        self.spool.seek(0)
        for line in self.spool:
            yield json.loads(line)

    def close(self, header: dict[str, Any]) -> None:
        """Write the report; ``header`` holds ``aggregate``, counts and lists for the summary, and
        for the page ``command`` (its title) and ``context`` (date, version, model, folders...)."""
        with atomic_path(self.path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
            if self.kind == ".csv":
                writer = csv.DictWriter(handle, fieldnames=ROW_FIELDS, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(self._rows())
            elif self.kind == ".json":
                self._write_json(handle, header)
            else:
                handle.write(self._html(header))
        self.spool.close()

    def _write_json(self, handle, header: dict[str, Any]) -> None:
        body = {"definitions": DEFINITIONS, **json_safe(header)}
        text = json.dumps(body, indent=2)
        handle.write(text[: text.rfind("}")].rstrip() + ',\n  "images": [\n')
        for i, row in enumerate(self._rows()):
            handle.write(("" if i == 0 else ",\n") + "    " + json.dumps(row))
        handle.write("\n  ]\n}\n")

    def _html(self, header: dict[str, Any]) -> str:
        aggregate = header.get("aggregate", {})
        baseline = header.get("baseline") or {}
        rows = "".join(
            f"<tr><th>{html.escape(_described(key))}</th><td>{_fmt(value)}</td>"
            + (f"<td>{_fmt(baseline.get(key, ''))}</td>" if baseline else "") + "</tr>"
            for key, value in aggregate.items()
        )
        baseline_head = "<th>no colour (the truth's gray copy)</th>" if baseline else ""
        counts = "".join(f"<li>{html.escape(k.replace('_', ' '))}: {_fmt(v)}</li>"
                         for k, v in header.get("counts", {}).items())
        context = "".join(f"<tr><th>{html.escape(key)}</th><td>{_fmt(value)}</td></tr>"
                          for key, value in header.get("context", {}).items() if value is not None)
        command = header.get("command", "score")
        if self.seen <= 3 * THUMBS:  # few images: show each once, worst first
            sections = [("Every scored image, worst PSNR first", self._all_scored())]
        else:
            sections = [
                ("Worst PSNR", [item for _, _, item in sorted(self.worst, key=lambda t: -t[0])]),
                ("Best PSNR", [item for _, _, item in sorted(self.best, key=lambda t: -t[0])]),
                ("Random sample", self.sample),
            ]
        if self.unscored:
            sections.append(("Outputs (no truth given): input | output", self.unscored))
        gray_copies = GrayCopies(self.path)
        galleries = "".join(_gallery(title, items, gray_copies) for title, items in sections if items)
        if self.failures:
            listed = "".join(f"<tr><td>{html.escape(name)}</td><td>{html.escape(reason)}</td></tr>"
                             for name, reason in self.failures)
            galleries += f"<h2>Failed</h2><table><tr><th>image</th><th>reason</th></tr>{listed}</table>"
        definitions = "".join(f"<li><b>{k}</b>: {html.escape(v)}</li>" for k, v in DEFINITIONS.items())
        histogram = (f"<h2>PSNR histogram</h2>{_histogram_svg(self.histogram)}" if self.seen else "")
        summary = (f"<table><tr><th>metric</th><th>outputs</th>{baseline_head}</tr>{rows}</table>" if rows else "")
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>colorbatch {html.escape(command)} report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1em; }}
td, th {{ border: 1px solid #ccc; padding: 4px 10px; text-align: left; }}
.gallery {{ display: flex; flex-wrap: wrap; gap: 18px; }}
figure {{ margin: 0; }} figcaption {{ font-size: 12px; max-width: {3 * THUMB_SIDE + 8}px; word-break: break-all; }}
.tiles {{ display: flex; gap: 4px; }} .tiles span {{ display: block; font-size: 11px; color: #555; }}
</style></head><body>
<h1>colorbatch {html.escape(command)} report</h1>
<h2>Run</h2>
<table>{context}</table>
<h2>Summary</h2>
{summary}
<ul>{counts}</ul>
{histogram}
{galleries}
<h2>Definitions</h2><ul>{definitions}</ul>
</body></html>
"""


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float inside dicts and lists made JSON-safe (see ``_clean``)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return _clean(value)


def _described(key: str) -> str:
    return AGGREGATE_BY_KEY[key].description if key in AGGREGATE_BY_KEY else key


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.4f}"
    return html.escape(str(value))


def _thumbnail(path: str, side: int = THUMB_SIDE) -> Image.Image:
    with Image.open(path) as image:
        image = image.convert("RGB")
        scale = side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        return image.resize(size, Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS)


def _data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class GrayCopies:
    """Full-size gray copies of truths, for a score report whose gray inputs are not files: written
    beside the report in a folder named after it (``r.html`` -> ``r_files/``), linked relatively
    so the page and its folder can move together."""

    def __init__(self, report: Path) -> None:
        self.folder = report.with_name(f"{report.stem}_files")
        self.count = 0

    def link_for(self, truth: str) -> str:
        """Write the gray copy of ``truth`` as score read it (EXIF orientation applied); its link."""
        self.count += 1
        name = f"gray-{self.count:04d}.png"
        write_atomic(self.folder / name, encode(gray_u8(read_rgb(Path(truth))), None, ".png"))
        return f"{quote(self.folder.name)}/{name}"


def _tile(label: str, image: Image.Image, href: str) -> str:
    """One thumbnail, linked to its full-size file."""
    img = f'<img alt="{html.escape(label)}" src="{_data_uri(image)}" width="{image.width}" height="{image.height}">'
    return f'<div><a href="{html.escape(href)}">{img}</a><span>{html.escape(label)}</span></div>'


def _file_uri(path: str) -> str:
    return Path(path).resolve().as_uri()


def _tiles(item: dict, gray_copies: GrayCopies) -> str:
    """gray input | output | truth (scored), or input | output (run without truth)."""
    output = _thumbnail(item["prediction"])
    if item.get("truth"):
        truth = _thumbnail(item["truth"]).resize(output.size)
        gray = Image.fromarray(gray_u8(np.asarray(truth))).convert("RGB")
        gray_link = _file_uri(item["source"]) if item.get("source") else gray_copies.link_for(item["truth"])
        parts = [("gray input", gray, gray_link), ("output", output, _file_uri(item["prediction"])),
                 ("truth", truth, _file_uri(item["truth"]))]
    else:
        source = _thumbnail(item["source"]).resize(output.size)
        parts = [("input", source, _file_uri(item["source"])), ("output", output, _file_uri(item["prediction"]))]
    return '<div class="tiles">' + "".join(_tile(*part) for part in parts) + "</div>"


def _gallery(title: str, items: list[dict], gray_copies: GrayCopies) -> str:
    figures = []
    for item in items:
        try:
            tiles = _tiles(item, gray_copies)
        except OSError:
            continue
        caption = html.escape(item["image"])
        if item.get("psnr") is not None:
            caption += f"<br>PSNR {_fmt(item['psnr'])} dB, SSIM {item['ssim']:.4f}"
        figures.append(f"<figure>{tiles}<figcaption>{caption}</figcaption></figure>")
    return f"<h2>{html.escape(title)}</h2><div class=\"gallery\">{''.join(figures)}</div>"


def _histogram_svg(counts: np.ndarray) -> str:
    """Bars per 1 dB with the count above each, a dB axis and a count axis."""
    left, width, height, bottom = 40, 680, 220, 36
    bar = (width - left) / len(counts)
    peak = max(int(counts.max()), 1)
    parts = [f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#333"/>',
             f'<line x1="{left}" y1="10" x2="{left}" y2="{height - bottom}" stroke="#333"/>',
             f'<text x="{left - 4}" y="{height - bottom}" font-size="10" text-anchor="end">0</text>',
             f'<text x="{left - 4}" y="18" font-size="10" text-anchor="end">{peak}</text>',
             f'<text x="{(left + width) / 2}" y="{height - 4}" font-size="11" text-anchor="middle">'
             "PSNR (dB)</text>",
             f'<text x="12" y="{(height - bottom) / 2}" font-size="11" text-anchor="middle" '
             f'transform="rotate(-90 12 {(height - bottom) / 2})">images</text>']
    for i, count in enumerate(counts):
        h = (height - bottom - 20) * count / peak
        x = left + i * bar
        label = (f"<{HIST_RANGE[0]}" if i == 0 else f">={HIST_RANGE[1]}" if i == len(counts) - 1
                 else f"{HIST_RANGE[0] + i - 1}")
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{height - bottom - h:.1f}" width="{bar - 1:.1f}" '
                     f'height="{h:.1f}" fill="#4a7fb5"><title>{html.escape(label)} dB: {count} images</title></rect>')
        if count:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom - h - 3:.1f}" font-size="9" '
                         f'text-anchor="middle">{count}</text>')
        if i % 5 == 0 or i == len(counts) - 1:
            parts.append(f'<text x="{x:.1f}" y="{height - bottom + 14}" font-size="10">{html.escape(label)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="PSNR histogram (dB)">{"".join(parts)}</svg>')
