"""Which ONNX Runtime is installed. It is an extra, not a dependency: its CPU build (package
``onnxruntime``) and its CUDA build (``onnxruntime-gpu``) install into the same ``onnxruntime/``
folder, so a project that depended on one and offered the other would get both, and whichever
pip wrote last would win. The user picks one: ``colorbatch[cpu]`` or ``colorbatch[gpu]``.
"""

from __future__ import annotations

from importlib import metadata
from types import ModuleType

from colorbatch.errors import RuntimeMissingError

BUILDS = ("onnxruntime", "onnxruntime-gpu")
INSTALL_HINT = ("pip install \"colorbatch[cpu]\" (CPU only, the light one) or \"colorbatch[gpu]\" "
                "(CUDA, also runs on CPU)")


def import_onnxruntime() -> ModuleType:
    """``onnxruntime``, or a ``RuntimeMissingError`` that says how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise RuntimeMissingError(f"ONNX Runtime is not installed: {INSTALL_HINT}") from None
    return onnxruntime


def installed_builds() -> list[str]:
    """The ONNX Runtime distributions pip has installed (by their metadata, not their files)."""
    found = []
    for name in BUILDS:
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


def no_cuda_reason() -> str:
    """Why the loaded onnxruntime has no CUDA provider, with the fix."""
    if len(installed_builds()) == len(BUILDS):
        return ("onnxruntime and onnxruntime-gpu are both installed and share one folder, where the CPU "
                "build's files won: pip uninstall -y onnxruntime onnxruntime-gpu, then pip install "
                "\"colorbatch[gpu]\"")
    return "this onnxruntime build has no CUDA provider: pip install \"colorbatch[gpu]\" instead of [cpu]"
