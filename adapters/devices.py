"""Devices of GPU-class adapters (torch, JAX): which exist here, and the run option that picks one.

``RunConfig.device`` is "cpu" or "cuda" (alias "gpu"). An adapter lists in ``Capabilities.devices``
only the devices its library really sees on this machine, so a CUDA run on a machine without one is
*not applicable* with the library's own reason, never silently run on the CPU.
"""

from __future__ import annotations

from snnval.errors import NotApplicable

#: accepted spellings of the GPU device (the suite's name first)
GPU_NAMES = ("cuda", "gpu")
DEVICE_NAMES = ("cpu", *GPU_NAMES)


def torch_devices() -> tuple[tuple[str, ...], str]:
    """(devices torch can run on here, why CUDA is missing or ""); answers without torch installed too."""
    try:
        import torch
    except ImportError as exc:  # capabilities must answer when the library is missing (e.g. on Python 3.12+)
        return ("cpu",), f"torch is not installed ({exc})"

    if torch.cuda.is_available():
        return ("cpu", *GPU_NAMES), ""
    return ("cpu",), "no CUDA device: torch.cuda.is_available() is False"


def jax_devices() -> tuple[tuple[str, ...], str]:
    """(devices JAX can run on here, why a GPU is missing or ""); answers without JAX installed too."""
    try:
        import jax
    except ImportError as exc:
        return ("cpu",), f"jax is not installed ({exc})"

    try:
        gpus = jax.devices("gpu")
    except RuntimeError as exc:  # jax raises when no backend of that platform exists
        return ("cpu",), f"no CUDA device: jax.devices('gpu') failed ({str(exc).splitlines()[0]})"
    if gpus:
        return ("cpu", *GPU_NAMES), ""
    return ("cpu",), "no CUDA device: jax.devices('gpu') is empty"


def check_device(device: str, available: tuple[str, ...], missing_reason: str) -> None:
    """Raise NotApplicable unless ``device`` is a known device name this machine has."""
    if device not in DEVICE_NAMES:
        raise NotApplicable(f"device {device!r} is not a device name (one of {DEVICE_NAMES})")
    if device not in available:
        raise NotApplicable(f"device {device!r} is not available here: {missing_reason}")
