"""The studio's HTTP server (Starlette): a JSON API over a ``Catalog`` that the page and scripts
use. It serves 127.0.0.1 (another interface only when asked), answers only requests that carry
its token (``?token=`` once, then a cookie; or ``Authorization: token ...``) and name a loopback
host (DNS rebinding), reaches files only through the catalog's ids, and limits bodies.

    GET    /                              the page (``page/``: the gallery and the editor; every asset ships here)
    GET    /api/photos                    the batch: id, path, kind, state, width, height (paged, filtered)
    GET    /api/photos/{id}/gray          the gray input (?max_size= long side)
    GET    /api/photos/{id}/output        the output as written
    POST   /api/photos/{id}/preview       body: an RGBA PNG hint layer (none: automatic); ?vividness, ?max_size
    GET    /api/photos/{id}/hints         the saved hint file, to edit again (404: none)
    PUT    /api/photos/{id}/hints         body: the hint layer; saves the hint file and colours the output
    DELETE /api/photos/{id}/hints         removes the hint file; the photo goes back to automatic colour

Errors are JSON ``{"error": message}``: 400 a hint that is not a usable image, 401/403 no token or a
foreign host, 404 an unknown id, 409 saving without ``--hints``, 413 a body too large.
"""

from __future__ import annotations

import functools
import io
import secrets
from pathlib import Path

import numpy as np
from PIL import Image
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from colorbatch.batch.steering import partner_file
from colorbatch.errors import HintError, ImageError
from colorbatch.files.atomic import write_atomic
from colorbatch.files.imaging import decode
from colorbatch.hints import check_hint_image
from colorbatch.studio.catalog import Catalog, Entry

COOKIE = "colorbatch_studio"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_BODY = 64 * 1024 * 1024  # a hint layer of a 8000 x 8000 scan as PNG fits many times over
MAX_HINT_PIXELS = 200_000_000  # a hint layer's declared size, checked from its header before decoding
PREVIEW_SIDE = 1024
PAGE = Path(__file__).parent / "page"
ASSETS = {"studio.js": "text/javascript", "studio.css": "text/css"}


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Guard(BaseHTTPMiddleware):
    """Loopback hosts and the token, before any route runs."""

    def __init__(self, app, token: str, hosts: tuple[str, ...]) -> None:
        super().__init__(app)
        self.token, self.hosts = token, hosts

    async def dispatch(self, request: Request, call_next):
        host = _host_name(request.headers.get("host", ""))
        if host not in self.hosts:
            return _error(403, f"host {host!r} is not this machine's loopback name")
        given = request.query_params.get("token") or request.cookies.get(COOKIE) or \
            request.headers.get("authorization", "").removeprefix("token ").strip()
        if not given or not secrets.compare_digest(given, self.token):
            return _error(401, "the studio's token is missing or wrong (open the URL the studio printed)")
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        return response


def _host_name(header: str) -> str:
    """The name in a Host header, without its port (``[::1]:8000`` -> ``[::1]``)."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _png(image: Image.Image) -> Response:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return Response(buffer.getvalue(), media_type="image/png")


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise Refused(413, f"body of {int(declared):,} bytes; the limit is {MAX_BODY:,}")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise Refused(413, f"body over the limit of {MAX_BODY:,} bytes")
    return bytes(data)


def _hint_layer(data: bytes, size: tuple[int, int]) -> Image.Image:
    """The RGBA hint layer in a request body, checked from its header (size, aspect) before decoding."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_HINT_PIXELS:
            raise Refused(400, f"hint layer of {image.width}x{image.height} pixels, over the limit")
        check_hint_image(image, size)  # alpha and aspect ratio: HintError with the reason
        return image.convert("RGBA")
    except HintError as exc:
        raise Refused(400, str(exc)) from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise Refused(400, f"the body is not a usable image ({exc})") from None


class Studio:
    """The routes, over one catalog and one model."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def entry(self, request: Request) -> Entry:
        try:
            return self.catalog[request.path_params["photo"]]
        except KeyError:
            raise Refused(404, "no such photo in this batch") from None

    async def page(self, request: Request) -> Response:
        return Response((PAGE / "index.html").read_bytes(), media_type="text/html")

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            raise Refused(404, "no such asset")
        return Response((PAGE / name).read_bytes(), media_type=ASSETS[name])

    async def hint_file(self, request: Request) -> Response:
        entry = self.entry(request)
        hints = self.catalog.options.hints
        if hints is None:
            raise Refused(404, "no hint folder (--hints)")
        path = partner_file(hints, entry.relative)
        if path is None:
            raise Refused(404, f"{entry.relative.as_posix()} has no hint file")
        return Response(path.read_bytes(), media_type=_media_type(path))

    async def photos(self, request: Request) -> Response:
        query = request.query_params
        try:
            offset, limit = int(query.get("offset", 0)), min(int(query.get("limit", 100)), 1000)
        except ValueError:
            raise Refused(400, "offset and limit are numbers") from None
        return JSONResponse(self.catalog.listing(max(offset, 0), max(limit, 0), query.get("state"),
                                                 query.get("folder")))

    async def gray(self, request: Request) -> Response:
        entry = self.entry(request)
        image = self._gray(entry, _max_size(request, None))
        return _png(image)

    def _gray(self, entry: Entry, side: int | None) -> Image.Image:
        try:
            stat = entry.source.stat()
            return _gray_at(str(entry.source), stat.st_mtime_ns, stat.st_size, self.catalog.options.max_pixels,
                            side).copy()
        except (ImageError, OSError) as exc:
            raise Refused(400, str(exc)) from None

    async def output(self, request: Request) -> Response:
        entry = self.entry(request)
        if entry.target is None or not entry.target.is_file():
            raise Refused(404, f"{entry.relative.as_posix()} has no output yet")
        return Response(entry.target.read_bytes(), media_type=_media_type(entry.target))

    async def preview(self, request: Request) -> Response:
        entry = self.entry(request)
        gray = self._gray(entry, _max_size(request, PREVIEW_SIDE))
        data = await _body(request)
        hints = _hint_layer(data, gray.size).resize(gray.size, Image.Resampling.NEAREST) if data else None
        vividness = request.query_params.get("vividness")
        colorizer = self._colorizer(None if vividness is None else _unit(vividness))
        return _png(colorizer.colorize(gray, hints=hints))

    @functools.lru_cache(maxsize=4)  # noqa: B019 (one studio per process, a few vividness values)
    def _colorizer(self, vividness: float | None):
        if vividness is None or vividness == self.catalog.colorizer.vividness:
            return self.catalog.colorizer
        from colorbatch.api import Colorizer

        base = self.catalog.colorizer
        return Colorizer(base.spec.model, device=base.spec.device, size=base.size, vividness=vividness, streams=1)

    def _hint_path(self, entry: Entry) -> Path:
        hints = self.catalog.options.hints
        if hints is None or not hints.is_dir():
            raise Refused(409, "saving needs a hint folder: start the studio with --hints DIR")
        return hints / entry.relative.with_suffix(".png")

    async def save(self, request: Request) -> Response:
        entry = self.entry(request)
        path = self._hint_path(entry)
        size = self._gray(entry, None).size
        layer = _hint_layer(await _body(request), size).resize(size, Image.Resampling.NEAREST)
        try:
            other = partner_file(self.catalog.options.hints, entry.relative)
        except HintError as exc:  # several hint files already
            raise Refused(409, str(exc)) from None
        if other is not None and other != path:
            raise Refused(409, f"{other} is also a hint file for this photo; remove it first")
        buffer = io.BytesIO()
        layer.save(buffer, format="PNG")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, buffer.getvalue())
        return self._recolour(entry)

    async def remove(self, request: Request) -> Response:
        entry = self.entry(request)
        path = self._hint_path(entry)
        path.unlink(missing_ok=True)
        return self._recolour(entry)

    def _recolour(self, entry: Entry) -> Response:
        """The output through the same code as ``run``: this one input of the tree, as the run would."""
        catalog = self.catalog
        only = entry.relative if catalog.source.is_dir() else None
        summary = catalog.colorizer.run(catalog.source, catalog.out, catalog.options, only=only)
        if summary.failed:
            raise Refused(400, summary.failures[0].reason)
        return JSONResponse(catalog.refresh(entry.id).listed())


@functools.lru_cache(maxsize=32)
def _gray_at(source: str, mtime_ns: int, size: int, max_pixels: int, side: int | None) -> Image.Image:
    """An input's gray at ``side`` px on its long side, decoded once per version of the file: a
    person dabbing on one photo asks for its preview again and again (a 3000 x 2000 scan's decode
    and downscale were most of each answer)."""
    luma = decode(Path(source), max_pixels).luma
    image = Image.fromarray(np.clip(luma * 255 + 0.5, 0, 255).astype(np.uint8), "L")
    if side is not None:
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


def _max_size(request: Request, default: int | None) -> int | None:
    given = request.query_params.get("max_size")
    if given is None:
        return default
    if not given.isdigit() or not 16 <= int(given) <= 16384:
        raise Refused(400, "max_size is a side of 16 to 16384 pixels")
    return int(given)


def _unit(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Refused(400, "vividness is a number from 0 to 1") from None
    if not 0 <= value <= 1:
        raise Refused(400, "vividness is a number from 0 to 1")
    return value


def _media_type(path: Path) -> str:
    return {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
            ".tif": "image/tiff", ".tiff": "image/tiff", ".bmp": "image/bmp"}.get(path.suffix.lower(),
                                                                                  "application/octet-stream")


def create_app(catalog: Catalog, token: str | None = None, hosts: tuple[str, ...] = LOOPBACK) -> Starlette:
    """The studio's app over ``catalog``; ``token`` (default: a new random one) is ``app.state.token``."""
    studio = Studio(catalog)
    token = token or secrets.token_urlsafe(24)

    def guarded(handler):
        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Refused as refused:
                return _error(refused.status, str(refused))
        return route

    routes = [Route("/", guarded(studio.page)),
              Route("/static/{name}", guarded(studio.asset)),
              Route("/api/photos", guarded(studio.photos)),
              Route("/api/photos/{photo}/hints", guarded(studio.hint_file), methods=["GET"]),
              Route("/api/photos/{photo}/gray", guarded(studio.gray)),
              Route("/api/photos/{photo}/output", guarded(studio.output)),
              Route("/api/photos/{photo}/preview", guarded(studio.preview), methods=["POST"]),
              Route("/api/photos/{photo}/hints", guarded(studio.save), methods=["PUT"]),
              Route("/api/photos/{photo}/hints", guarded(studio.remove), methods=["DELETE"])]
    async def not_found(request: Request, exc) -> Response:
        return _error(exc.status_code, "no such route" if exc.status_code == 404 else str(exc.detail))

    app = Starlette(routes=routes, middleware=[Middleware(Guard, token=token, hosts=hosts)],
                    exception_handlers={404: not_found, 405: not_found})
    app.state.token = token
    return app
