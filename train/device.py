"""Where and in what arithmetic training runs."""

from __future__ import annotations

import torch

from colorbatch.errors import DeviceError


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: torch sees no usable CUDA device here")
    return torch.device(name)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for training steps, or None for plain fp32."""
    if precision == "auto":
        return torch.float16 if device.type == "cuda" else None
    if precision == "fp16" and device.type != "cuda":
        raise DeviceError("--precision fp16 needs CUDA; on CPU use bf16 (fast where the CPU has AMX/AVX-512 BF16)")
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
