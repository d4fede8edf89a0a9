"""The colour studio's server, as a script or the page uses it: the batch listed with its states,
previews, saving a dab as the hint file `run --hints` reads (and the output `run` would write),
and the guards: a token, loopback hosts, ids only, bounded bodies and hint headers."""

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from colorbatch.cli import cli
from colorbatch.color import gray_u8
from tests.conftest import random_rgb

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.testclient import TestClient

pytestmark = pytest.mark.slow  # runs the bundled model

RED = (230, 20, 30)


@pytest.fixture(scope="module")
def colorizer():
    from colorbatch.api import Colorizer

    return Colorizer(device="cpu")


def _batch(root: Path) -> Path:
    rng = np.random.default_rng(5)
    for name in ("a.png", "sub/b.png", "c.jpg"):
        path = root / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(gray_u8(random_rgb(rng, 60, 80))).save(path)
    (root / "in" / "notes.txt").write_text("not a photo")
    return root / "in"


def _studio(colorizer, root: Path, hints: bool = True):
    from colorbatch.batch.jobs import RunOptions
    from colorbatch.studio.app import create_app
    from colorbatch.studio.catalog import Catalog

    folder = root / "hints"
    if hints:
        folder.mkdir(exist_ok=True)
    catalog = Catalog(colorizer, root / "in", root / "out", RunOptions(hints=folder if hints else None))
    app = create_app(catalog, token="secret")
    return TestClient(app, base_url="http://127.0.0.1"), catalog


def _dab(size=(80, 60), at=(20, 20)) -> bytes:
    rgba = np.zeros((size[1], size[0], 4), np.uint8)
    rgba[at[1]:at[1] + 8, at[0]:at[0] + 8] = (*RED, 255)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def _ids(client) -> dict[str, str]:
    return {p["path"]: p["id"] for p in client.get("/api/photos", headers={"Authorization": "token secret"}).json()[
        "photos"]}


def test_nothing_is_answered_without_the_token_or_from_a_foreign_host(tmp_path, colorizer):
    _batch(tmp_path)
    client, _ = _studio(colorizer, tmp_path)
    assert client.get("/api/photos").status_code == 401
    assert client.get("/api/photos", headers={"Authorization": "token wrong"}).status_code == 401
    foreign = client.get("/api/photos?token=secret", headers={"Host": "evil.example:80"})
    assert foreign.status_code == 403 and "loopback" in foreign.json()["error"]
    first = client.get("/api/photos?token=secret")  # the URL the studio prints: then a cookie
    assert first.status_code == 200 and first.cookies.get("colorbatch_studio") == "secret"
    assert client.get("/api/photos").status_code == 200  # the cookie carries it on


def test_the_batch_is_listed_with_states_paged_and_filtered(tmp_path, colorizer):
    source = _batch(tmp_path)
    one = CliRunner().invoke(cli, ["run", str(source), str(tmp_path / "out"), "--device", "cpu", "--shard", "1/1"])
    assert one.exit_code == 0
    for name in ("sub/b.png", "c.png"):
        (tmp_path / "out" / name).unlink()
    client, _ = _studio(colorizer, tmp_path)
    auth = {"Authorization": "token secret"}
    listed = client.get("/api/photos", headers=auth).json()
    assert listed["total"] == 3  # notes.txt is no photo
    by_path = {p["path"]: p for p in listed["photos"]}
    assert by_path["a.png"]["state"] == "automatic" and by_path["sub/b.png"]["state"] == "not coloured"
    assert by_path["c.jpg"]["width"] == 80 and by_path["c.jpg"]["height"] == 60 and by_path["c.jpg"]["kind"] == "image"
    page = client.get("/api/photos?offset=1&limit=1", headers=auth).json()
    assert page["total"] == 3 and [p["path"] for p in page["photos"]] == [listed["photos"][1]["path"]]
    assert client.get("/api/photos?state=not%20coloured", headers=auth).json()["total"] == 2
    assert [p["path"] for p in client.get("/api/photos?folder=sub", headers=auth).json()["photos"]] == ["sub/b.png"]
    (source / "subway").mkdir()
    Image.open(source / "a.png").save(source / "subway" / "d.png")
    client, _ = _studio(colorizer, tmp_path)  # a sibling folder that begins with the same letters is not in it
    assert [p["path"] for p in client.get("/api/photos?folder=sub/", headers=auth).json()["photos"]] == ["sub/b.png"]
    assert client.get("/api/photos?folder=", headers=auth).json()["total"] == 4


def test_files_are_reached_only_through_the_plans_ids(tmp_path, colorizer):
    _batch(tmp_path)
    client, _ = _studio(colorizer, tmp_path)
    auth = {"Authorization": "token secret"}
    for photo in ("nope", "..%2F..%2Fetc%2Fpasswd", "a.png"):
        response = client.get(f"/api/photos/{photo}/gray", headers=auth)
        assert response.status_code == 404 and "error" in response.json()
    gray = client.get(f"/api/photos/{_ids(client)['a.png']}/gray?max_size=40", headers=auth)
    assert gray.status_code == 200 and Image.open(io.BytesIO(gray.content)).size == (40, 30)


def test_a_preview_follows_the_dab_and_bad_hints_are_refused(tmp_path, colorizer):
    _batch(tmp_path)
    client, _ = _studio(colorizer, tmp_path)
    auth = {"Authorization": "token secret"}
    photo = _ids(client)["a.png"]
    automatic = np.asarray(Image.open(io.BytesIO(client.post(f"/api/photos/{photo}/preview", headers=auth).content)))
    dabbed = client.post(f"/api/photos/{photo}/preview", headers=auth, content=_dab(size=(40, 30), at=(10, 10)))
    assert dabbed.status_code == 200
    dabbed = np.asarray(Image.open(io.BytesIO(dabbed.content)).convert("RGB"))
    assert dabbed.shape == (*automatic.shape[:2], 3) == (60, 80, 3)
    assert dabbed[24, 24, 0] > dabbed[24, 24, 2] + 40  # the dab's red, where it was put (at twice the layer's scale)
    not_png = client.post(f"/api/photos/{photo}/preview", headers=auth, content=b"not an image")
    assert not_png.status_code == 400
    started = time.perf_counter()
    huge = client.post(f"/api/photos/{photo}/preview", headers=auth, content=_header_only_png(30000, 30000))
    assert huge.status_code == 400 and time.perf_counter() - started < 2
    wrong_aspect = client.post(f"/api/photos/{photo}/preview", headers=auth, content=_dab(size=(50, 50)))
    assert wrong_aspect.status_code == 400 and "aspect ratio" in wrong_aspect.json()["error"]
    too_big = client.post(f"/api/photos/{photo}/preview", headers={**auth, "Content-Length": str(10**9)},
                          content=b"x")
    assert too_big.status_code == 413


def _header_only_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def test_saving_writes_the_hint_file_and_the_output_run_would_write(tmp_path, colorizer):
    source = _batch(tmp_path)
    client, _ = _studio(colorizer, tmp_path)
    auth = {"Authorization": "token secret"}
    photo = _ids(client)["sub/b.png"]
    saved = client.put(f"/api/photos/{photo}/hints", headers=auth, content=_dab())
    assert saved.status_code == 200, saved.text
    assert saved.json()["state"] == "steered"
    hint = tmp_path / "hints" / "sub" / "b.png"
    assert Image.open(hint).mode == "RGBA" and Image.open(hint).size == (80, 60)
    again = CliRunner().invoke(cli, ["run", str(source), str(tmp_path / "out2"), "--hints", str(tmp_path / "hints"),
                                     "--device", "cpu"])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "out" / "sub" / "b.png").read_bytes() == (tmp_path / "out2" / "sub" / "b.png").read_bytes()
    rerun = CliRunner().invoke(cli, ["run", str(source), str(tmp_path / "out"), "--hints", str(tmp_path / "hints"),
                                     "--device", "cpu", "--dry-run"])
    assert "keep   " + str(source / "sub" / "b.png") in rerun.stdout  # the studio's output is recorded as run's
    removed = client.delete(f"/api/photos/{photo}/hints", headers=auth)
    assert removed.status_code == 200 and removed.json()["state"] == "automatic" and not hint.exists()


def test_saving_needs_a_hint_folder(tmp_path, colorizer):
    _batch(tmp_path)
    client, _ = _studio(colorizer, tmp_path, hints=False)
    photo = _ids(client)["a.png"]
    refused = client.put(f"/api/photos/{photo}/hints", headers={"Authorization": "token secret"}, content=_dab())
    assert refused.status_code == 409 and "--hints" in refused.json()["error"]
    assert not (tmp_path / "out").exists()


def test_the_studio_refuses_a_hint_folder_in_input_or_out_before_making_anything(tmp_path):
    source = _batch(tmp_path)
    for hints, says in ((tmp_path / "out" / "dabs", "overlap"), (source / "dabs", "inside INPUT")):
        result = CliRunner().invoke(cli, ["studio", str(source), str(tmp_path / "out"), "--hints", str(hints)])
        assert result.exit_code == 2 and says in result.output, result.output
        assert not hints.exists() and not (tmp_path / "out").exists()
