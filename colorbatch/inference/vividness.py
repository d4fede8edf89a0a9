"""Vividness: how boldly a chroma-bins model commits to colour, from 0 (conservative) to 1 (vivid).

A chroma-bins model predicts a distribution over chroma bins and takes two decoding inputs (see
``colorbatch.train.bins``): ``temperature`` (1 is the distribution's mean, towards 0 its mode)
and ``correction`` (1 removes the colour rebalancing the model was trained with, which gives the
unbiased mean; 0 keeps it; below 0 tilts further towards rare, saturated colours: the decoded
distribution is the unbiased one times the rebalancing weights to the power 1 - correction).
Vividness walks a piecewise-linear curve through those two, stored in
the model's metadata as ``[[vividness, temperature, correction], ...]``, so the same vividness
means the same decoding for every user of that model, and no re-export is needed to change it.
"""

from __future__ import annotations

import itertools
import json

import numpy as np

DECODING_INPUTS = ("temperature", "correction")
# A starting curve: first drop the correction (0 -> 0.5), then lower the temperature (0.5 -> 1).
DEFAULT_CURVE: tuple[tuple[float, float, float], ...] = ((0.0, 1.0, 1.0), (0.5, 1.0, 0.0), (1.0, 0.4, 0.0))


class CurveError(ValueError):
    """A vividness curve that is not a list of [vividness, temperature, correction] rows."""


def parse_curve(value: str | list) -> tuple[tuple[float, float, float], ...]:
    """Check a curve (JSON text or a list): rows of 3 numbers, vividness rising from 0 to 1,
    temperatures above 0."""
    rows = json.loads(value) if isinstance(value, str) else value
    try:
        curve = tuple((float(v), float(t), float(c)) for v, t, c in rows)
    except (TypeError, ValueError):
        raise CurveError(f"vividness curve {value!r}: needs rows [vividness, temperature, correction]") from None
    points = [v for v, _, _ in curve]
    if len(curve) < 2 or points[0] != 0.0 or points[-1] != 1.0 or any(b <= a for a, b in itertools.pairwise(points)):
        raise CurveError(f"vividness curve {value!r}: vividness must rise from 0 to 1")
    if any(t <= 0 for _, t, _ in curve):
        raise CurveError(f"vividness curve {value!r}: temperatures must be above 0")
    return curve


def decoding_for(vividness: float, curve=DEFAULT_CURVE) -> dict[str, np.ndarray]:
    """The model's decoding inputs for ``vividness`` in [0, 1], each a float32 array of shape (1,)."""
    if not 0.0 <= vividness <= 1.0:
        raise CurveError(f"vividness {vividness} is outside [0, 1]")
    points, temperatures, corrections = (np.array(column, dtype=np.float64) for column in zip(*curve))
    return {
        "temperature": np.array([np.interp(vividness, points, temperatures)], dtype=np.float32),
        "correction": np.array([np.interp(vividness, points, corrections)], dtype=np.float32),
    }
