"""Saving and safely loading checkpoints: plain tensors, numpy arrays and Python containers, no code.

``torch.load(weights_only=True)`` refuses any pickled global it does not know. Agents keep numpy arrays and
generator states in their ``state_dict``; the numpy reconstruction functions and dtypes they need are
allow-listed here, and nothing else is: a checkpoint from elsewhere must not execute code.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Any

import numpy as np


def _numpy_globals() -> list[Any]:
    from numpy._core.multiarray import _reconstruct, scalar  # type: ignore[attr-defined]

    dtype_classes = [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith("DType")]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes]


def safe_load(source: str | Path | IO[bytes]) -> Any:
    """``torch.load`` with ``weights_only=True`` and the numpy allow-list, mapped to the CPU."""
    import torch

    with torch.serialization.safe_globals(_numpy_globals()):
        return torch.load(source, map_location="cpu", weights_only=True)


def round_trip(state: Any) -> Any:
    """``state`` after ``torch.save`` and :func:`safe_load` (what a resumed run would see)."""
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return safe_load(buffer)
