"""The data path's write step: one coloured image to its job's target, as the job's typed result
(for photos in ``pipeline`` and for the frames of ``--sequence`` clips in ``video.clips``)."""

from __future__ import annotations

import numpy as np

from colorbatch.batch.jobs import Job, Result, RunOptions, Status
from colorbatch.errors import ImageError
from colorbatch.files.imaging import Decoded, write_image


def write_output(job: Job, rgb: np.ndarray, decoded: Decoded, options: RunOptions) -> Result:
    """Write ``rgb`` (uint8, with the input's alpha and metadata) atomically to ``job.target``;
    a write that fails is the job's FAILED result, never an exception."""
    try:
        write_image(job.target, rgb, decoded.alpha, options.quality, decoded.metadata, options.png_compression)
    except ImageError as exc:
        return Result(job.source, job.target, Status.FAILED, str(exc), warnings=decoded.warnings)
    return Result(job.source, job.target, Status.DONE, redone=job.redo, warnings=decoded.warnings)
