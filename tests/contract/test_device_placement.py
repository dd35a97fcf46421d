"""Every registered method keeps its tensors on the runtime's device (and the template does too).

Runs on CPU-only machines: the device is :class:`tests.fake_device.FakeCuda`, a fake ``cuda:0`` under which
computation stays on the CPU but every op that meets a "device" tensor and a CPU tensor raises as CUDA does
(see its docstring for what it tracks). Each method is driven through construction on
``Runtime(device="cuda")``, one ``meta_train`` iteration on point-nav (smoke config), an evaluation through
the protocol (``begin_trial``/``act``/``observe``/``end_episode``), and ``state_dict``/``load_state_dict``
both as it is (tensors on the device) and after a checkpoint round trip (tensors on the CPU), each followed
by more acting and training. Where torch sees a real GPU the same drive also runs on ``cuda``.
"""

import numpy as np
import pytest
import torch

from benchmark import registry
from benchmark.agent import EnvSpec, Runtime, TrainingContext
from benchmark.checkpoint import round_trip
from benchmark.protocol import EvalSettings, evaluate
from benchmark.request import resolve_run
from benchmark.suites import make_suite
from tests.fake_device import FakeCuda, fake_cuda_runtime

TEMPLATE = "baselines._template.agent:TemplateAgent"
METHODS = sorted(registry.METHODS) + [TEMPLATE]
DEVICES = ["fake-cuda"] + (["cuda"] if torch.cuda.is_available() else [])
SUITE = "point-nav"


def factory_and_config(method):
    if method == TEMPLATE:
        factory = registry.MethodEntry(TEMPLATE, "").load()
        return factory, factory.default_config(SUITE, "smoke")
    _, config = resolve_run(method, SUITE, 0, "smoke")  # with a variant's overrides
    return registry.load_method(method), config


def train_one_iteration(agent, suite, spec, seed=0):
    ctx = TrainingContext(suite, spec, seed=seed, budget_env_steps=10**9)
    training = agent.meta_train(ctx)
    next(training)
    training.close()
    ctx.close()


def evaluate_once(agent, suite):
    settings = EvalSettings(num_tasks=2, episodes=2, splits=("meta_test",), exploration_episodes=1)
    results = evaluate(agent, suite, settings, seed=0)
    assert len(results) == 4 and all(np.isfinite(r.episode_return) for r in results)


def tensors_of(state):
    if isinstance(state, dict):
        return [t for value in state.values() for t in tensors_of(value)]
    if isinstance(state, (list, tuple)):
        return [t for value in state for t in tensors_of(value)]
    return [state] if isinstance(state, torch.Tensor) else []


def drive(method):
    """Construction, one training iteration, evaluation, and both kinds of state round trip."""
    factory, config = factory_and_config(method)
    suite = make_suite(SUITE, 0)
    spec = EnvSpec.from_suite(suite)
    runtime = Runtime(device="cuda")
    agent = factory(config, spec, 0, runtime)
    evaluate_once(agent, suite)  # the untrained agent (the harness evaluates at env_steps 0)
    train_one_iteration(agent, suite, spec)
    evaluate_once(agent, suite)
    state = agent.state_dict()
    for loaded in (state, round_trip({"agent": state})["agent"]):  # on the device; as a checkpoint loads
        fresh = factory(config, spec, 1, runtime)
        fresh.load_state_dict(loaded)
        evaluate_once(fresh, suite)
        train_one_iteration(fresh, suite, spec, seed=1)
        evaluate_once(fresh, suite)
    return state


# torch's LSTM asks cuDNN about "CUDA" inputs; a CPU-only torch warns that it has none.
@pytest.mark.filterwarnings("ignore:PyTorch was compiled without cuDNN")
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("device", DEVICES)
def test_method_keeps_its_tensors_on_the_runtime_device(device, method, monkeypatch):
    if device == "cuda":
        drive(method)
        return
    fake_cuda_runtime(monkeypatch)
    with FakeCuda() as mode:
        state = drive(method)
    # The networks really went to the device (a method without any, like random, has nothing to check).
    networks = any(t.is_floating_point() and t.dim() > 1 for t in tensors_of(state))
    assert mode.moved > 0 or not networks, "no tensor was put on the fake device"


def test_the_fake_device_catches_a_cpu_tensor_meeting_a_device_tensor(monkeypatch):
    """The check itself: the kinds of mistakes it exists for fail, the legal mixes pass."""
    from tests.fake_device import DeviceMixError

    with FakeCuda() as mode:
        x = torch.zeros(3, 4).to("cuda")
        assert mode.on_device(x) and x.device == torch.device("cuda", 0) and x.is_cuda
        with pytest.raises(DeviceMixError, match="same device"):
            _ = torch.arange(4) > x  # the TrMRL defect: a CPU arange against a device tensor
        with pytest.raises(DeviceMixError):
            torch.nn.Linear(4, 2)(x)  # CPU weights, device input
        with pytest.raises(TypeError, match="numpy"):
            x.numpy()
        with pytest.raises(DeviceMixError, match="generator"):
            torch.randn(3, generator=torch.Generator(), device="cuda")
        y = x + torch.tensor(2.0)  # a CPU scalar tensor is fine, as on CUDA
        assert mode.on_device(y) and mode.on_device(x[torch.tensor([0, 1])])  # CPU indices too
        assert mode.on_device(torch.zeros(2, device=x.device)) and not mode.on_device(x.cpu())
        assert x.cpu().numpy().shape == (3, 4)
        module = torch.nn.Linear(4, 2).to("cuda")
        assert all(mode.on_device(p) for p in module.parameters())
        module(x).sum().backward()
        assert all(mode.on_device(p.grad) for p in module.parameters())
    with FakeCuda(count=2) as mode:
        a, b = torch.ones(3, device="cuda:1"), torch.ones(3).cuda(0)
        assert mode.where(a) == 1 and a.device == torch.device("cuda", 1) and mode.where(a * 2) == 1
        with pytest.raises(DeviceMixError, match="cuda:0 and cuda:1"):
            _ = a + b
