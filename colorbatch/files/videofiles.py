"""Video files as files: which names are videos, whether PyAV (the `video` extra) is there to read
them, and whether a video output on disk is whole. Light: discovery and planning use it without
the video subsystem (``colorbatch.video``), which reads and writes the frames."""

from __future__ import annotations

from pathlib import Path

from colorbatch.errors import VideoError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


def is_video_path(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def _av():
    try:
        import av
    except ImportError:
        raise VideoError('video needs PyAV: pip install "colorbatch[video]"') from None
    return av


def video_support() -> bool:
    """Whether this installation reads and writes video (PyAV is there)."""
    try:
        _av()
    except VideoError:
        return False
    return True


def is_whole_video(target: Path, source: Path) -> bool:
    """Whether ``target`` is a finished colour copy of ``source``: it opens, and its video stream
    has the source's size and frame count (where the containers state one). A file cut short by
    another tool fails to open (an MP4 without its index) or counts fewer frames."""
    av = _av()
    try:
        with av.open(str(target)) as out, av.open(str(source)) as src:
            if not out.streams.video or not src.streams.video:
                return False
            a, b = out.streams.video[0], src.streams.video[0]
            if (a.codec_context.width, a.codec_context.height) != (b.codec_context.width, b.codec_context.height):
                return False
            return not (a.frames and b.frames and a.frames != b.frames)
    except (av.FFmpegError, OSError):
        return False
