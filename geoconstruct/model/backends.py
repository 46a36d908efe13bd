"""Where the forward pass runs: numpy on the CPU (the reference), or torch on a CPU or a GPU.

The one forward pass (:mod:`~geoconstruct.model.transformer`) is array code; this module
chooses the arrays: :func:`require_backend` refuses a backend or device before any work,
:func:`maps_on` puts a model's linear maps where the pass runs, and :func:`to_numpy` brings
results back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from geoconstruct.model.linear_maps import LinearMap

__all__ = ["BACKENDS", "DEVICES", "maps_on", "require_backend", "require_torch", "to_numpy"]

BACKENDS = ("numpy", "torch")
"""How the forward pass runs: numpy on the CPU (the reference), or torch on ``"cpu"``/``"cuda"``."""

DEVICES = ("cpu", "cuda")


def require_torch(extra: str = "tl") -> Any:
    """Import torch, or raise ``ImportError`` naming the ``extra`` that installs it.

    Parameters
    ----------
    extra : str
        The optional extra to name (``"tl"``, ``"train"``).
    """
    try:
        import torch
    except ImportError as error:  # pragma: no cover - the test extra installs torch
        raise ImportError(f"this needs torch: pip install 'geoconstruct[{extra}]'") from error
    return torch


def require_backend(backend: str, device: str) -> None:
    """Refuse, before any work, a backend or device the forward pass does not run on.

    Examples
    --------
    >>> require_backend("numpy", "cpu") is None
    True
    >>> require_backend("numpy", "cuda")
    Traceback (most recent call last):
    ...
    ValueError: the numpy backend runs on the cpu; device='cuda' needs backend='torch'
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if backend == "numpy" and device != "cpu":
        raise ValueError(
            f"the numpy backend runs on the cpu; device={device!r} needs backend='torch'"
        )
    if backend == "torch" and device == "cuda" and not require_torch().cuda.is_available():
        raise ValueError("device='cuda' but torch sees no GPU; use device='cpu'")


def maps_on(
    maps: Mapping[str, LinearMap], backend: str, device: str = "cpu"
) -> Mapping[str, LinearMap]:
    """The model's linear maps where the pass runs: as they are for numpy, as torch tensors on
    ``device`` otherwise (nonzero blocks kept, a sparse block made dense).

    Parameters
    ----------
    maps : mapping of str to LinearMap
        The model's maps (:func:`~geoconstruct.model.transformer.linear_maps` of numpy weights).
    """
    require_backend(backend, device)
    if backend == "numpy":
        return maps
    torch = require_torch()
    target = torch.device(device)

    def tensor(array: Any) -> Any:
        return torch.as_tensor(np.array(array), device=target)  # a writeable copy

    return {name: linear.on(tensor) for name, linear in maps.items()}


def to_numpy(array: Any) -> np.ndarray[Any, Any]:
    """A numpy copy (or the array itself) of a numpy array or a torch tensor on any device.

    Parameters
    ----------
    array : ndarray or torch.Tensor
        The values.
    """
    if isinstance(array, np.ndarray):
        return array
    return np.asarray(array.detach().cpu())
