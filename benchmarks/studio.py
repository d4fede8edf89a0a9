"""Preview round trips of `colorbatch studio`, against a plain `Colorizer(streams=1).colorize` of the
same preview in the same run (issue 45's latency bars).

    python benchmarks/studio.py [--repeats 7]

A real server (uvicorn on 127.0.0.1, the studio's app over a two-photo batch) and an HTTP client
(httpx, keep-alive): for a CBSD68 photo (481 x 321) and a 3000 x 2000 scan (a scikit-image
photo scaled up), at 512 and 1024 px on the long side: the first view (`POST .../preview`
without a body, the photo decoded afresh each time), and the preview after a dab (a 7 x 7 px dab
on an RGBA layer at the preview's size), each the median of `--repeats`; and `colorize(gray at
the preview size, hints=the same layer)` in this process. (The CBSD68 photo is smaller than 512
px, so both of its rows preview it at its own size.) The bars: after a dab <= 40 ms (CBSD68) and
<= 60 ms (the scan at 1024 px), each <= 0.7x the plain colorize; the scan's first view <= 0.5 s.
"""

from __future__ import annotations

import argparse
import io
import statistics
import threading
import time
from pathlib import Path

import numpy as np
from common import WORK, extracted, write_results
from PIL import Image


def _batch() -> Path:
    from colorbatch.color import gray_u8
    from colorbatch.samples import sample_images

    folder = WORK / "studio" / "in"
    if not (folder / "scan.png").exists():
        folder.mkdir(parents=True, exist_ok=True)
        photo = sorted(extracted("photos-eval/cbsd68", "photos-eval.tar").glob("*.png"))[0]
        Image.fromarray(gray_u8(np.asarray(Image.open(photo).convert("RGB")))).save(folder / "cbsd68.png")
        scan = Image.fromarray(sample_images(("coffee",))["coffee"]).resize((3000, 2000), Image.Resampling.BICUBIC)
        Image.fromarray(gray_u8(np.asarray(scan))).save(folder / "scan.png")
    return folder


def _layer(size: tuple[int, int]) -> bytes:
    rgba = np.zeros((size[1], size[0], 4), np.uint8)
    y, x = size[1] // 2, size[0] // 3
    rgba[y:y + 7, x:x + 7] = (40, 90, 220, 255)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    import httpx
    import uvicorn

    from colorbatch.api import Colorizer
    from colorbatch.batch.jobs import RunOptions
    from colorbatch.studio.app import _gray_at, create_app
    from colorbatch.studio.catalog import Catalog

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    folder = _batch()
    colorizer = Colorizer(device="cpu", streams=1)
    catalog = Catalog(colorizer, folder, WORK / "studio" / "out", RunOptions())
    server = uvicorn.Server(uvicorn.Config(create_app(catalog, token="bench"), host="127.0.0.1", port=0,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "token bench"}, timeout=60)
    ids = {p["path"]: p["id"] for p in client.get("/api/photos").json()["photos"]}
    rows = []
    for name in ("cbsd68.png", "scan.png"):
        gray = Image.open(folder / name)
        for side in (512, 1024):
            url = f"/api/photos/{ids[name]}/preview?max_size={side}"
            small = gray.copy()
            small.thumbnail((side, side), Image.Resampling.LANCZOS)
            layer = _layer(small.size)
            hints = Image.open(io.BytesIO(layer))
            first = _median_ms(lambda url=url: (_gray_at.cache_clear(), client.post(url).raise_for_status()),
                               args.repeats)  # cold: the photo decoded again, as when it is opened
            client.post(url).raise_for_status()  # then warm, as while a person dabs
            dab = _median_ms(lambda url=url, layer=layer: client.post(url, content=layer).raise_for_status(),
                             args.repeats)
            plain = _median_ms(lambda small=small, hints=hints: colorizer.colorize(small, hints=hints), args.repeats)
            rows.append({"photo": f"{name[:-4]} {gray.width}x{gray.height}",
                         "preview px": f"{small.width}x{small.height}", "first view ms": first,
                         "after a dab ms": dab, "plain colorize ms": plain, "dab / plain": dab / plain})
    server.should_exit = True
    write_results("studio", rows, {"bars": "after a dab <= 40 ms (CBSD68), <= 60 ms (scan at 1024); <= 0.7x plain; "
                                           "the scan's first view <= 0.5 s", "repeats": args.repeats})


if __name__ == "__main__":
    main()
