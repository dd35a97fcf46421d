"""A fake CUDA device for CPU-only machines: device-placement bugs fail here as they would on a GPU.

:class:`FakeCuda` is a :class:`~torch.overrides.TorchFunctionMode` that lets every computation run on the
CPU, with real values (so an agent can step environments, train and evaluate), while it keeps track of where
each tensor *would* live:

* a tensor is on GPU ``i`` when it was made with ``device="cuda:i"`` (any factory: ``zeros``, ``as_tensor``,
  ``randn``...; plain ``cuda`` is GPU 0), moved there (``.to("cuda")``, ``.cuda()``, ``Module.to``, which
  assigns ``param.data``), or computed from tensors on that GPU (every output of an op with device inputs:
  views, ``zeros_like``, ``p.grad``, an optimizer's moments...); ``.cpu()`` / ``.to("cpu")`` bring it back.
* device tensors answer ``.device`` with ``cuda:i`` and ``.is_cuda`` with True, so code that reads a tensor's
  device (``torch.zeros(n, device=x.device)``, ``Optimizer.load_state_dict``) follows them.
* every op raises, as CUDA does, when it mixes tensors of two GPUs, or a GPU tensor with a CPU tensor of one
  or more dimensions (CPU 0-dim tensors are allowed, as on CUDA; ``copy_`` crosses devices; indices of
  ``t[idx]`` may stay on the CPU); when ``.numpy()`` or ``np.asarray`` reads a device tensor; and when a CPU
  ``torch.Generator`` draws a device tensor.

What it cannot see: which random stream CUDA would draw from (:func:`fake_cuda_runtime` records the calls
to ``torch.cuda``'s RNG functions for that), kernels' numerics, and ops done in C++ below Python (they see
real CPU tensors; their results come back through ops it tracks). ``torch.Generator(device="cuda")`` cannot
be built on a CPU-only torch: code under test draws from CPU generators and moves the noise.

The ``torch.cuda`` functions that code calls when it believes GPUs are there (``is_available``,
``device_count``, ``current_device``, ``device``, each GPU's RNG state and seeding) are monkeypatched by
:func:`fake_cuda_runtime`, one CPU generator per fake GPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakIdKeyDictionary

CPU = -1  # where a tensor lives: a GPU index, or CPU

_GETSET = ("__get__", "__set__")
# Copies between devices are what moves data; the others only read metadata.
_CROSS_DEVICE = {torch.Tensor.copy_, torch._has_compatible_shallow_copy_type, torch.is_same_size}


def _tensors(*trees: Any) -> list[torch.Tensor]:
    leaves, _ = tree_flatten(trees)
    return [leaf for leaf in leaves if isinstance(leaf, torch.Tensor)]


def _name(func: Any) -> str:
    owner = getattr(func, "__self__", None)
    if owner is not None and getattr(func, "__name__", None) in _GETSET:
        return f"Tensor.{owner.__name__}.{func.__name__}"
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))


class DeviceMixError(RuntimeError):
    """What CUDA raises when an op meets tensors of two devices (the message starts the same way)."""


class FakeCuda(TorchFunctionMode):
    """Run on the CPU, account as if tensors made or moved to ``cuda[:i]`` lived on GPU ``i < count``."""

    def __init__(self, count: int = 1) -> None:
        super().__init__()
        self.count = count
        self._where: WeakIdKeyDictionary = WeakIdKeyDictionary()  # tensor -> GPU index (absent: CPU)
        self.moved = 0  # tensors made on or moved to a GPU, so a test can tell some were

    # ---- bookkeeping -----------------------------------------------------------------------------------

    def where(self, tensor: torch.Tensor) -> int:
        """The fake GPU ``tensor`` lives on, or :data:`CPU`."""
        return self._where.get(tensor, CPU)

    def on_device(self, tensor: torch.Tensor) -> bool:
        return self.where(tensor) != CPU

    def _mark(self, tensor: torch.Tensor, where: int) -> None:
        if where == CPU:
            self._where.pop(tensor, None)
        else:
            self._where[tensor] = where
            self.moved += 1

    def _target(self, device: Any) -> int | None:
        """The GPU index or :data:`CPU` a ``device`` argument names; None for no argument."""
        if device is None:
            return None
        device = device if isinstance(device, torch.device) else torch.device(device)
        if device.type == "cpu":
            return CPU
        index = 0 if device.index is None else device.index
        if device.type != "cuda" or index >= self.count:
            raise DeviceMixError(f"the fake has {self.count} GPU(s); got device {device}")
        return index

    def _check_mix(self, name: str, tensors: list[torch.Tensor]) -> None:
        gpus = sorted({self.where(t) for t in tensors} - {CPU})
        cpu = [t for t in tensors if not self.on_device(t) and t.dim() > 0]
        if len(gpus) > 1 or (gpus and cpu):
            found = [f"cuda:{i}" for i in gpus] + (["cpu"] if cpu else [])
            shapes = ", ".join(str(tuple(t.shape)) for t in cpu)
            raise DeviceMixError(
                f"Expected all tensors to be on the same device, but found at least two devices, "
                f"{found[0]} and {found[1]}! ({name}" + (f"; CPU tensors of shapes {shapes})" if cpu else ")")
            )

    # ---- the mode ------------------------------------------------------------------------------------------

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        name = _name(func)
        owner = getattr(func, "__self__", None)
        if owner is not None and getattr(func, "__name__", None) in _GETSET:
            return self._getset(owner.__name__, func, args)
        if func in (torch.Tensor.to, torch.Tensor.cuda, torch.Tensor.cpu):
            return self._move(func, args, kwargs)
        if func in (torch.Tensor.numpy, torch.Tensor.__array__) and self.on_device(args[0]):
            raise TypeError(
                f"can't convert cuda:{self.where(args[0])} device type tensor to numpy. Use Tensor.cpu() to "
                "copy the tensor to host memory first."
            )
        if func is torch.Tensor.get_device:
            return self.where(args[0])
        # Where the outputs live: a device argument says so; else the inputs' device does.
        target = self._target(kwargs.get("device"))
        if target is not None:
            kwargs["device"] = torch.device("cpu")
        tensors = _tensors(args, kwargs) if func is not torch.Tensor.__deepcopy__ else [args[0]]  # not memo
        if func is torch.Tensor.__getitem__:
            # CUDA moves CPU index tensors to the indexed tensor's device, never the other way.
            if not self.on_device(args[0]):
                self._check_mix(name, tensors)
        elif func is torch.Tensor.__setitem__:
            self._check_mix(name, [args[0], *_tensors(args[2:])])
            if not self.on_device(args[0]):
                self._check_mix(name, [args[0], *_tensors(args[1])])
        elif func not in _CROSS_DEVICE:
            self._check_mix(name, tensors)
        if target is None:
            target = max((self.where(t) for t in tensors), default=CPU)
        generator = kwargs.get("generator")
        if target != CPU and isinstance(generator, torch.Generator) and generator.device.type == "cpu":
            raise DeviceMixError(f"Expected a 'cuda' device type for generator but found 'cpu' ({name})")
        result = func(*args, **kwargs)
        inputs = {id(t) for t in tensors}
        for out in _tensors(result):
            if id(out) not in inputs:  # an in-place op or a no-op view returns its input: it stays put
                self._mark(out, target)
        return result

    def _getset(self, attribute: str, func: Any, args: tuple) -> Any:
        tensor = args[0]
        if func.__name__ == "__set__":
            value = args[1]
            if attribute == "data":  # Module.to assigns param.data = param.to(device)
                self._mark(tensor, self.where(value) if isinstance(value, torch.Tensor) else CPU)
            elif (
                attribute == "grad"
                and isinstance(value, torch.Tensor)
                and self.where(value) != self.where(tensor)
            ):
                raise DeviceMixError("assigned grad has data located on a different device")
            return func(*args)
        where = self.where(tensor)
        if attribute == "device":
            return torch.device("cuda", where) if where != CPU else func(*args)
        if attribute == "is_cuda":
            return where != CPU
        if attribute == "is_cpu":
            return where == CPU
        result = func(*args)
        if isinstance(result, torch.Tensor) and result is not tensor:
            self._mark(result, where)  # .data, .grad, .T, .mT...: where the tensor is
        return result

    def _move(self, func: Any, args: tuple, kwargs: dict[str, Any]) -> torch.Tensor:
        tensor, rest = args[0], args[1:]
        if func is torch.Tensor.cpu:
            target = CPU
            result = func(tensor, **kwargs)
        elif func is torch.Tensor.cuda:
            device = rest[0] if rest else kwargs.get("device")
            target = self._target(
                torch.device("cuda", device) if isinstance(device, int) else device or "cuda"
            )
            result = tensor
        elif rest and isinstance(rest[0], torch.Tensor):  # t.to(other): other's device and dtype
            other = rest[0]
            target = self.where(other)
            result = func(tensor, other.dtype, *rest[1:], **kwargs)
        else:
            copy = bool(kwargs.pop("copy", False))
            device, dtype, non_blocking, memory_format = torch._C._nn._parse_to(*rest, **kwargs)
            parsed = self._target(device)
            target = self.where(tensor) if parsed is None else parsed
            result = tensor.to(
                dtype=dtype if dtype is not None else tensor.dtype,
                non_blocking=non_blocking,
                memory_format=memory_format if memory_format is not None else torch.preserve_format,
                copy=copy,
            )
        assert target is not None
        if target != self.where(tensor) and result is tensor:
            result = tensor.clone()  # a move between devices copies
        if result is not tensor:
            self._mark(result, target)
        return result


class FakeCudaRandom:
    """``torch.cuda``'s device and RNG functions for ``count`` fake GPUs: one CPU generator per GPU, and a
    log of the calls (``(function, device index)``)."""

    def __init__(self, count: int = 1) -> None:
        self.generators = [torch.Generator().manual_seed(0) for _ in range(count)]
        self.current = 0
        self.calls: list[tuple[str, int | None]] = []

    def _index(self, device: Any) -> int:
        if isinstance(device, int):
            return device
        device = torch.device(device)
        return self.current if device.index is None else device.index

    def current_device(self) -> int:
        return self.current

    @contextlib.contextmanager
    def device(self, device: Any) -> Iterator[None]:
        previous, self.current = self.current, self._index(device)
        try:
            yield
        finally:
            self.current = previous

    def get_rng_state(self, device: Any = "cuda") -> torch.Tensor:
        index = self._index(device)
        self.calls.append(("get_rng_state", index))
        return self.generators[index].get_state()

    def set_rng_state(self, state: torch.Tensor, device: Any = "cuda") -> None:
        index = self._index(device)
        self.calls.append(("set_rng_state", index))
        self.generators[index].set_state(state)

    def get_rng_state_all(self) -> list[torch.Tensor]:
        self.calls.append(("get_rng_state_all", None))
        return [g.get_state() for g in self.generators]

    def set_rng_state_all(self, states: list[torch.Tensor]) -> None:
        self.calls.append(("set_rng_state_all", None))
        for generator, state in zip(self.generators, states, strict=True):
            generator.set_state(state)

    def manual_seed(self, seed: int) -> None:
        self.calls.append(("manual_seed", self.current))
        self.generators[self.current].manual_seed(int(seed))

    def manual_seed_all(self, seed: int) -> None:
        self.calls.append(("manual_seed_all", None))
        for generator in self.generators:
            generator.manual_seed(int(seed))

    def states(self) -> list[torch.Tensor]:
        """Every fake GPU's generator state (no call logged)."""
        return [g.get_state() for g in self.generators]


def fake_cuda_runtime(monkeypatch: Any, count: int = 1) -> FakeCudaRandom:
    """``torch.cuda`` says ``count`` GPUs are there (until ``monkeypatch`` undoes it); their generators are
    CPU ones (the returned object holds them and logs the calls)."""
    fake = FakeCudaRandom(count)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    for name in (
        "current_device",
        "device",
        "get_rng_state",
        "set_rng_state",
        "get_rng_state_all",
        "set_rng_state_all",
        "manual_seed",
        "manual_seed_all",
    ):
        monkeypatch.setattr(torch.cuda, name, getattr(fake, name))
    return fake
