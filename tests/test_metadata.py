"""Photo metadata survives colorization and gray copies: EXIF (orientation reset once applied),
resolution, colour profile (sRGB where a gray profile cannot describe colour), PNG text chunks and
descriptive TIFF tags, in each output format that can hold them (issue 15)."""

import io

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageCms, PngImagePlugin

from colorbatch.cli import cli
from colorbatch.color import gray_u8
from tests.conftest import random_rgb

ARTIST, ORIENTATION = 0x013B, 0x0112


def _profile(kind: str) -> bytes:
    if kind == "sRGB":
        return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    # A gray profile: sRGB's bytes with the colour-space field set to GRAY is enough for the check
    profile = bytearray(_profile("sRGB"))
    profile[16:20] = b"GRAY"
    return bytes(profile)


def _photo(path, rng, mode="RGB", icc="sRGB", rotated=True):
    """A 40x24 photo stored rotated (orientation 6: the viewer turns it to 24x40), with metadata."""
    pixels = random_rgb(rng, 24, 40)
    image = Image.fromarray(pixels if mode == "RGB" else gray_u8(pixels))
    exif = Image.Exif()
    exif[ARTIST] = "A. Photographer"
    if rotated:
        exif[ORIENTATION] = 6
    options = {"exif": exif.tobytes(), "dpi": (300, 300), "icc_profile": _profile(icc)}
    if path.suffix == ".png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Title", "Harbour, 1931")
        options["pnginfo"] = info
    if path.suffix == ".tif":  # TIFF holds these as tags of its own directory
        options["tiffinfo"] = {270: "Harbour, 1931", ARTIST: "A. Photographer", **({ORIENTATION: 6} if rotated else {})}
    image.save(path, **options)
    return path


@pytest.mark.parametrize("fmt", ["png", "jpg", "webp", "tif"])
def test_run_keeps_exif_dpi_profile_and_text(tmp_path, rng, tiny_onnx, fmt):
    folder = tmp_path / "in"
    folder.mkdir()
    _photo(folder / f"photo.{fmt}", rng, mode="L", icc="GRAY")
    result = CliRunner().invoke(cli, ["run", str(folder), str(tmp_path / "out"), "--model", str(tiny_onnx),
                                      "--format", "same"])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "out" / f"photo.{fmt}") as out:
        assert out.size == (24, 40)  # the rotation was applied once, to the pixels
        exif = out.getexif()
        assert exif.get(ARTIST) == "A. Photographer" and exif.get(ORIENTATION, 1) == 1
        assert out.info["icc_profile"][16:20] == b"RGB "  # a gray profile cannot describe colour: sRGB
        if fmt != "webp":
            assert tuple(round(v) for v in out.info["dpi"]) == (300, 300)
        if fmt == "png":
            assert out.text.get("Title") == "Harbour, 1931"
        if fmt == "tif":
            assert out.tag_v2.get(270) == "Harbour, 1931"


def test_an_rgb_profile_is_kept_as_it_is(tmp_path, rng, tiny_onnx):
    folder = tmp_path / "in"
    folder.mkdir()
    photo = _photo(folder / "photo.jpg", rng, icc="sRGB", rotated=False)
    with Image.open(photo) as image:
        profile = image.info["icc_profile"]
    result = CliRunner().invoke(cli, ["run", str(folder), str(tmp_path / "out"), "--model", str(tiny_onnx),
                                      "--format", "jpg"])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "out" / "photo.jpg") as out:
        assert out.info["icc_profile"] == profile


def test_gray_copies_keep_exif_dpi_and_text(tmp_path, rng):
    folder = tmp_path / "colour"
    folder.mkdir()
    _photo(folder / "photo.png", rng)
    result = CliRunner().invoke(cli, ["gray", str(folder), str(tmp_path / "gray")])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "gray" / "photo.png") as out:
        assert out.mode == "L" and out.size == (24, 40)
        assert out.getexif().get(ARTIST) == "A. Photographer" and out.getexif().get(ORIENTATION, 1) == 1
        assert tuple(round(v) for v in out.info["dpi"]) == (300, 300) and out.text["Title"] == "Harbour, 1931"
        assert "icc_profile" not in out.info  # an RGB profile does not describe a gray image
    assert np.asarray(Image.open(io.BytesIO((tmp_path / "gray" / "photo.png").read_bytes()))).ndim == 2
