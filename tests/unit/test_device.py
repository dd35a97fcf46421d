"""The harness's device settings, checked without a GPU (fake GPUs: tests/fake_device.py): which CUDA
generator a runtime draws from, the deterministic settings of a CUDA run, and the global generators of a
resume point on a GPU."""

from __future__ import annotations

import pytest
import torch

from benchmark.agent import Runtime
from benchmark.run import capture_global_rngs, restore_global_rngs
from tests.fake_device import fake_cuda_runtime


def test_a_runtime_names_the_cuda_generator_it_draws_from(monkeypatch):
    fake = fake_cuda_runtime(monkeypatch, count=3)
    assert Runtime("cpu").cuda_devices() == [] and not Runtime("cpu").is_cuda
    assert Runtime("cuda:2").cuda_devices() == [2]
    fake.current = 1
    assert Runtime("cuda").cuda_devices() == [1]  # plain cuda: torch's current device


@pytest.fixture
def deterministic_flags(monkeypatch):
    """Torch's process-wide flags (and CUBLAS_WORKSPACE_CONFIG, unset) as they were, restored after."""
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", "")  # monkeypatch remembers the value before the test
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG")
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.get_float32_matmul_precision(),
    )
    yield saved
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[2], saved[3]
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[4], saved[5]
    torch.set_float32_matmul_precision(saved[6])


def test_a_cuda_runtime_turns_on_deterministic_kernels_and_off_tf32(monkeypatch, deterministic_flags):
    import os

    fake_cuda_runtime(monkeypatch)
    torch.backends.cudnn.benchmark = True  # what a user may have set
    torch.backends.cudnn.allow_tf32 = True  # torch's default
    Runtime("cuda").make_deterministic()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert (
        torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    )
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    assert torch.get_float32_matmul_precision() == "highest"


def test_a_cpu_runtime_changes_no_flag(monkeypatch, deterministic_flags):
    import os

    Runtime("cpu").make_deterministic()
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    assert (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.get_float32_matmul_precision(),
    ) == deterministic_flags


def test_a_users_cublas_workspace_setting_is_kept(monkeypatch, deterministic_flags):
    import os

    fake_cuda_runtime(monkeypatch)
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    Runtime("cuda").make_deterministic()
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_global_generators_of_a_gpu_run_include_its_cuda_generator(monkeypatch):
    fake = fake_cuda_runtime(monkeypatch, count=2)
    assert "torch_cuda" not in capture_global_rngs() and "torch_cuda" not in capture_global_rngs(Runtime())
    fake.generators[1].manual_seed(11)
    state = capture_global_rngs(Runtime("cuda:1"))
    assert torch.equal(state["torch_cuda"], fake.generators[1].get_state())
    fake.generators[1].manual_seed(12)
    fake.calls.clear()
    restore_global_rngs(state, Runtime("cuda:1"))
    assert fake.calls == [("set_rng_state", 1)]
    assert torch.equal(fake.generators[1].get_state(), state["torch_cuda"])
