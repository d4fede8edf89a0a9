"""ONNX Runtime sessions for colorbatch models: provider choice, metadata, inference.

``auto`` uses CUDA only when a CUDA session really runs (the session lists the provider and a
warm-up batch succeeds), hiding onnxruntime's library-loading noise; ``cuda`` that cannot run is
a ``DeviceError`` quoting what onnxruntime said was missing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from colorbatch.errors import DeviceError, HintsUnsupportedError, ModelError
from colorbatch.hints import HINT_INPUTS
from colorbatch.inference.modelinfo import ModelInfo, bundled_model_path
from colorbatch.inference.runtime import import_onnxruntime, no_cuda_reason
from colorbatch.inference.vividness import DECODING_INPUTS, CurveError, decoding_for

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
@contextlib.contextmanager
def _captured_stderr():
    """Collect what native code writes to file descriptor 2 (onnxruntime's logger)."""
    captured: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = re.sub(r"\x1b\[[0-9;]*m", "", sink.read().decode(errors="replace"))
            captured.extend(line.strip() for line in text.splitlines() if line.strip())


def _options(threads: int | None):
    ort = import_onnxruntime()

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return options


def parse_device(device: str) -> tuple[str, int]:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` to (kind, CUDA device id)."""
    kind, _, index = device.partition(":")
    if kind in ("auto", "cpu") and not index:
        return kind, 0
    if kind == "cuda" and (not index or index.isdigit()):
        return kind, int(index or 0)
    raise DeviceError(f"unknown device {device!r}: use auto, cpu, cuda or cuda:N (N the GPU's index, "
                      "counted among the GPUs CUDA_VISIBLE_DEVICES leaves visible)")


def _cuda_session(path: Path, threads: int | None, probe_shape: tuple[int, ...], device_id: int = 0):
    """A session that really runs on CUDA, or ``(None, reason)``."""
    ort = import_onnxruntime()

    if CUDA not in ort.get_available_providers():
        return None, no_cuda_reason()
    printed = io.StringIO()
    with _captured_stderr() as lines, contextlib.redirect_stdout(printed):
        try:
            if hasattr(ort, "preload_dlls"):  # finds CUDA/cuDNN from pip's nvidia-* packages
                ort.preload_dlls()
            providers = [(CUDA, {"device_id": device_id}), CPU]
            session = ort.InferenceSession(str(path), _options(threads), providers=providers)
            if session.get_providers()[0] != CUDA:
                session = None
            else:
                probe = {session.get_inputs()[0].name: np.zeros(probe_shape, np.float32)}
                probe.update({i.name: np.ones(1, np.float32) for i in session.get_inputs()[1:]})
                session.run(None, probe)
        except Exception as exc:  # onnxruntime raises its own Fail/RuntimeException types
            lines.append(str(exc))
            session = None
    if session is None:
        lines += printed.getvalue().splitlines()
        pattern = re.compile(r"Failed to load (lib[\w+-]+\.so[\w.]*)")
        missing = sorted({m.group(1) for line in lines if (m := pattern.search(line))})
        if missing:
            return None, f"missing {', '.join(missing)} (see the README: CUDA for onnxruntime-gpu)"
        reasons = [line for line in lines if "cuda" in line.lower() or "cudnn" in line.lower()]
        return None, "; ".join(reasons[-2:]) or "the CUDA provider did not load"
    return session, ""


class ModelSession:
    """The session: an ONNX colorization model loaded in ONNX Runtime, gray ``(N, 1, H, W)`` -> RGB
    ``(N, 3, H, W)``, float32 [0, 1] (``ColorModel`` is a model in use around it; ``Colorizer`` runs folders).

    A chroma-bins model also takes the decoding inputs of ``colorbatch.inference.vividness``; ``vividness``
    (default: the model's own) sets them.
    """

    def __init__(self, path: Path | None = None, device: str = "auto", threads: int | None = None,
                 vividness: float | None = None) -> None:
        ort = import_onnxruntime()

        self.path = Path(path) if path is not None else bundled_model_path()
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no such model file")
        parse_device(device)  # a misspelt device fails before any work
        ort.set_default_logger_severity(3)
        try:
            cpu_session = ort.InferenceSession(str(self.path), _options(threads), providers=[CPU])
        except Exception as exc:  # onnxruntime's own exception types
            raise ModelError(f"{self.path}: onnxruntime cannot load it ({str(exc).splitlines()[0][:300]})") from None
        self.info = ModelInfo.from_metadata(cpu_session.get_modelmeta().custom_metadata_map)
        self._check_contract(cpu_session)
        self.session = cpu_session
        kind, device_id = parse_device(device)
        if kind in ("auto", "cuda"):
            probe = (1, 1, self.info.train_size, self.info.train_size)
            cuda_session, reason = _cuda_session(self.path, threads, probe, device_id)
            if cuda_session is not None:
                self.session = cuda_session
            elif kind == "cuda":
                raise DeviceError(f"--device {device}: CUDA cannot run here: {reason}")
        self.provider = self.session.get_providers()[0]
        self.input_name = self.session.get_inputs()[0].name
        self.vividness = self._check_vividness(vividness)
        self.decoding = {} if self.vividness is None else decoding_for(self.vividness, self.info.vividness_curve)

    def _check_contract(self, session) -> None:
        inputs, outputs = session.get_inputs(), session.get_outputs()
        extra = tuple(i.name for i in inputs[1:])
        if (not inputs or extra not in ((), DECODING_INPUTS, DECODING_INPUTS + HINT_INPUTS) or len(outputs) != 1
                or len(inputs[0].shape) != 4
                or inputs[0].shape[1] != 1):
            raise ModelError(
                f"{self.path}: not a colorbatch model (needs one input gray (N,1,H,W), optionally "
                f"{' and '.join(DECODING_INPUTS)}, and one output rgb (N,3,H,W); has "
                f"{[(i.name, i.shape) for i in inputs]} -> {[(o.name, o.shape) for o in outputs]})"
            )
        rgb = outputs[0].shape
        if len(rgb) != 4 or (isinstance(rgb[1], int) and rgb[1] != 3):
            raise ModelError(f"{self.path}: not a colorbatch model: its output {outputs[0].name} has shape {rgb}, "
                             "not (N,3,H,W)")
        if bool(extra) != (self.info.vividness_curve is not None):
            raise ModelError(f"{self.path}: decoding inputs and the vividness_curve metadata must come together")
        if (HINT_INPUTS[0] in extra) != self.info.takes_hints:
            raise ModelError(f"{self.path}: hint inputs and the hint_inputs/reference_bins metadata must come together")

    def _check_vividness(self, vividness: float | None) -> float | None:
        if self.info.vividness_curve is None:
            if vividness is not None:
                raise ModelError(f"{self.path.name} ({self.info.arch}) has no vividness control: it predicts "
                                 "one colour per pixel, not a distribution (a chroma-bins model has one)")
            return None
        chosen = self.info.default_vividness if vividness is None else vividness
        if not 0.0 <= chosen <= 1.0:
            raise CurveError(f"vividness {chosen} is outside [0, 1]")
        return chosen

    def __call__(self, gray: np.ndarray, hints: np.ndarray | None = None,
                 reference: np.ndarray | None = None) -> np.ndarray:
        """RGB for ``gray``; a hint model also takes ``hints`` ``(N, 3, H, W)`` and ``reference``
        ``(N, Q)`` (see ``colorbatch.hints``), zeros where not given."""
        feeds = {self.input_name: np.ascontiguousarray(gray, np.float32), **self.decoding}
        if self.info.takes_hints:
            n, _, height, width = gray.shape
            feeds["hints"] = (np.zeros((n, 3, height, width), np.float32) if hints is None
                              else np.ascontiguousarray(hints, np.float32))
            feeds["reference"] = (np.zeros((n, self.info.reference_bins), np.float32) if reference is None
                                  else np.ascontiguousarray(reference, np.float32))
        elif hints is not None or reference is not None:
            raise HintsUnsupportedError(no_hint_inputs(self.path))
        return self.session.run(None, feeds)[0]


def no_hint_inputs(path: Path) -> str:
    return (f"{path.name} takes no hints: --hints, --reference and --keyframes need a model exported with hint "
            "inputs (the bundled model has them; `colorbatch info MODEL` shows whether a model does)")


def metadata_json(props: dict[str, str], key: str) -> object:
    """A metadata value stored as JSON (training metrics, arguments), or the raw string."""
    try:
        return json.loads(props[key])
    except (KeyError, json.JSONDecodeError):
        return props.get(key)
