"""Video files in and out, with PyAV (FFmpeg inside its wheels; the ``video`` extra).

A clip is read as a stream of frames, each reduced to its luminance: the Y plane of the decoded
picture in 8-bit studio range (16-235), which is what a gray film is, whatever its container.
Outputs keep that Y plane bit for bit and take their colour from the model: the written
picture's luminance is the input's, up to the codec's own compression. Frame count, time
stamps, rate and size are the input's; every audio stream is copied untouched (its packets are
remuxed, never decoded). Like every output, the file is written to a temporary name and renamed
when it is complete. Any failure is a ``VideoError`` naming the file and the reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from colorbatch import defaults
from colorbatch.errors import VideoError
from colorbatch.files.atomic import atomic_path
from colorbatch.files.videofiles import _av

# The muxer for each extension (the temporary file's name does not tell FFmpeg).
_CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".webm": "webm"}
DEFAULT_CODEC = "libx264"  # H.264, yuv420p: plays everywhere
WEBM_CODEC = "libvpx-vp9"  # WebM holds VP8/VP9/AV1 only
DEFAULT_CRF = defaults.CRF  # x264's "visually lossless" end of the scale
STUDIO_BLACK, STUDIO_RANGE = 16.0, 219.0  # 8-bit studio-range luma: 16 is black, 235 white
_BT601 = 5  # AVCOL_SPC_BT470BG: the matrix colorbatch's luminance uses
_STUDIO = 1  # AVCOL_RANGE_MPEG


def default_codec(target: Path) -> str:
    return WEBM_CODEC if target.suffix.lower() == ".webm" else DEFAULT_CODEC


@dataclass(frozen=True)
class ClipInfo:
    width: int
    height: int
    frames: int  # as the container states it; 0 when it does not say
    rate: Fraction | None  # average frame rate
    time_base: Fraction


@dataclass
class VideoFrame:
    """One decoded frame: its luminance for the model and what the encoder keeps of it."""

    luma: np.ndarray  # float32 (H, W) in [0, 1]
    y_plane: np.ndarray  # uint8 (H, W), studio range: the output's Y plane
    pts: int | None


def _studio_luma(y_plane: np.ndarray) -> np.ndarray:
    return np.clip((y_plane.astype(np.float32) - STUDIO_BLACK) / STUDIO_RANGE, 0.0, 1.0)


class VideoReader:
    """Frames of a video file's first video stream, decoded lazily; ``with`` closes the file."""

    def __init__(self, path: Path, max_pixels: int | None = None) -> None:
        av = _av()
        self.path = Path(path)
        try:
            self.container = av.open(str(path))
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"{path}: cannot open video ({_reason(exc)})") from None
        if not self.container.streams.video:
            self.container.close()
            raise VideoError(f"{path}: no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        context = self.stream.codec_context
        if max_pixels is not None and context.width * context.height > max_pixels:
            self.container.close()
            raise VideoError(f"{path}: {context.width}x{context.height} frames exceed --max-pixels {max_pixels}")
        self.info = ClipInfo(context.width, context.height, self.stream.frames, self.stream.average_rate,
                             self.stream.time_base)

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.container.close()

    def frames(self) -> Iterator[VideoFrame]:
        av = _av()
        try:
            for frame in self.container.decode(self.stream):
                if frame.width % 2 or frame.height % 2:
                    raise VideoError(f"{self.path}: {frame.width}x{frame.height} frames; yuv420p needs even sides")
                planes = frame.reformat(format="yuv420p").to_ndarray()
                y_plane = np.ascontiguousarray(planes[: frame.height])
                yield VideoFrame(_studio_luma(y_plane), y_plane, frame.pts)
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: cannot decode video ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "strerror", None) or exc)[:200]


class VideoWriter:
    """Encodes colour frames beside a copy of the source's audio into ``target``, atomically:
    the file appears under its name only after ``close()`` (leaving the ``with`` block)."""

    def __init__(self, target: Path, source: Path, info: ClipInfo, codec: str | None = None,
                 crf: int = DEFAULT_CRF) -> None:
        self.av = _av()
        self.target, self.source, self.info = Path(target), Path(source), info
        self.codec = codec or default_codec(self.target)
        self.crf = crf
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> VideoWriter:
        av = self.av
        try:
            tmp = self._stack.enter_context(atomic_path(self.target))
            self.output = self._stack.enter_context(
                av.open(str(tmp), mode="w", format=_CONTAINERS.get(self.target.suffix.lower(), "mp4")))
            self._add_video_stream()
            self.audio_in = self._stack.enter_context(av.open(str(self.source)))
            audio = list(self.audio_in.streams.audio)
            self.audio_map = {s.index: self.output.add_stream_from_template(s) for s in audio}
            self.audio_packets = self.audio_in.demux(*audio) if audio else iter(())
            self.next_audio = None
        except BaseException as exc:  # unwound as a failure: the temporary file is removed, never renamed
            self._stack.__exit__(type(exc), exc, exc.__traceback__)
            if isinstance(exc, (av.FFmpegError, OSError, ValueError)):
                raise VideoError(f"cannot write {self.target}: {_reason(exc)}") from None
            raise
        return self

    def _add_video_stream(self) -> None:
        info = self.info
        options = {"crf": str(self.crf)}
        if self.codec == WEBM_CODEC:
            options["b"] = "0"  # constant quality: VP9 reads the CRF only with no bit-rate target
        if self.target.suffix.lower() == ".avi":
            options["bf"] = "0"  # AVI stores no presentation times: frames must come out in display order
        stream = self.output.add_stream(self.codec, rate=info.rate or Fraction(25), options=options)
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, "yuv420p"
        stream.time_base = info.time_base
        context = stream.codec_context
        context.colorspace, context.color_range = _BT601, _STUDIO
        context.thread_type = "AUTO"
        self.video = stream

    def write(self, rgb: np.ndarray, y_plane: np.ndarray, pts: int | None) -> None:
        """One frame: colour from ``rgb`` (uint8 H x W x 3), luminance exactly ``y_plane``."""
        av = self.av
        planes = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
            format="yuv420p", dst_colorspace="itu601", dst_color_range="MPEG").to_ndarray()
        planes[: y_plane.shape[0]] = y_plane
        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.pts, frame.time_base = pts, self.info.time_base
        try:
            self._encode(frame)
        except av.FFmpegError as exc:
            raise VideoError(f"cannot write {self.target}: {_reason(exc)}") from None

    def _encode(self, frame) -> None:
        """Encode ``frame`` (None: flush the encoder) and mux its packets, each after the audio before it."""
        for packet in self.video.encode(frame):
            self._mux_audio_until(packet)
            self.output.mux(packet)

    def _mux_audio_until(self, video_packet) -> None:
        """Audio packets up to the time of ``video_packet`` (all of them when None), so that the
        file is interleaved as players expect without holding the soundtrack in memory."""
        limit = None
        if video_packet is not None and video_packet.dts is not None:
            limit = float(video_packet.dts * video_packet.time_base)
        while True:
            if self.next_audio is None:
                self.next_audio = next(self.audio_packets, None)
                if self.next_audio is None:
                    return
            packet = self.next_audio
            if packet.dts is not None and limit is not None and float(packet.dts * packet.time_base) > limit:
                return
            self.next_audio = None
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            packet.stream = self.audio_map[packet.stream.index]
            self.output.mux(packet)

    def __exit__(self, exc_type, exc, tb) -> None:
        av = self.av
        try:
            if exc_type is None:
                self._encode(None)
                self._mux_audio_until(None)
        except av.FFmpegError as error:
            self._stack.__exit__(type(error), error, error.__traceback__)
            raise VideoError(f"cannot write {self.target}: {_reason(error)}") from None
        except BaseException as error:
            self._stack.__exit__(type(error), error, error.__traceback__)
            raise
        self._stack.__exit__(exc_type, exc, tb)
