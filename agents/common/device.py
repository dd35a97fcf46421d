"""Host-to-device copies that do not make the host wait for the GPU.

``tensor.to("cuda")`` from ordinary (pageable) host memory makes the CPU wait until the stream's queued
kernels have finished: once per call, it takes away the CPU's lead over the GPU. Here the data is staged in
pinned memory from torch's caching host allocator and copied with ``non_blocking``; the allocator hands that
block out again only once the copy's stream event has completed, so the host may change or free its own
array at once (never the staged block itself: fill a fresh :func:`staging` tensor for every copy). On the
CPU nothing is copied.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def staging(shape: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An empty CPU tensor to fill on the host and hand to :func:`send`: pinned when ``device`` is a GPU."""
    pinned = device.type == "cuda" and torch.backends.cuda.is_built()  # a CPU-only torch cannot pin
    return torch.empty(tuple(shape), dtype=dtype, pin_memory=pinned)


def send(staged: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A filled :func:`staging` tensor on ``device`` (itself on the CPU), copied without a host sync."""
    return staged if device.type == "cpu" else staged.to(device, non_blocking=True)


def to_device(
    x: np.ndarray | torch.Tensor, device: torch.device, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """``x`` (a host array or a CPU tensor) as a tensor of ``dtype`` on ``device``, without a host sync.

    On the CPU the result shares ``x``'s memory where ``torch.as_tensor`` would.
    """
    tensor = torch.as_tensor(x, dtype=dtype)
    if device.type == "cpu":
        return tensor
    staged = staging(tensor.shape, tensor.dtype, device)
    staged.copy_(tensor)
    return send(staged, device)
