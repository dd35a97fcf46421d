"""TrMRL networks: parameter count, T-Fixup scales, causality, readout, working-memory window."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from agents.common.gaussian import GaussianMLPHead
from agents.trmrl.networks import (
    EncoderLayerNoLN,
    TransformerPolicy,
    ValueFunction,
    WorkingMemory,
    causal_mask,
    sinusoidal_encoding,
)


def make_policy(d_model=128, n_heads=16, dim_ff=512, n_layers=4, tfixup=True, token_dim=25, seed=0):
    torch.manual_seed(seed)
    return TransformerPolicy(
        token_dim, 6, 5, d_model, n_heads, dim_ff, n_layers, tfixup, (64, 64), 0.2, 1e-6, 1.0
    )


def test_halfcheetah_vel_encoder_has_the_originals_parameter_count():
    policy = make_policy()
    encoder = sum(p.numel() for p in policy.layers.parameters())
    assert encoder == 791_040
    # The same stack with nn.TransformerEncoderLayer's two LayerNorms per layer would hold 2,048 more.
    with_ln = sum(p.numel() for p in nn.TransformerEncoderLayer(128, 16, 512).parameters()) * 4
    assert with_ln - encoder == 2_048
    assert not any(isinstance(m, nn.LayerNorm) for m in policy.modules())


def test_layers_start_as_copies_of_one_template_as_in_the_original():
    """nn.TransformerEncoder(layer, num_layers) deep-copies one layer (gaussian_transformer_encoder_policy.py
    :130-146); the init then redraws every matrix, so only the biases stay identical across layers."""
    policy = make_policy()
    first, *others = policy.layers
    assert first.linear1.bias.abs().max() > 0  # PyTorch's default bias init, not zeros
    for layer in others:
        assert torch.equal(layer.linear1.bias, first.linear1.bias)
        assert torch.equal(layer.linear2.bias, first.linear2.bias)
        assert not torch.equal(layer.linear1.weight, first.linear1.weight)
        assert not torch.equal(layer.self_attn.in_proj_weight, first.self_attn.in_proj_weight)
    # copies, not shared tensors: training moves each layer's biases on its own
    assert first.linear1.bias.data_ptr() != others[0].linear1.bias.data_ptr()


def test_tfixup_scales_match_the_original():
    torch.manual_seed(0)
    d, n = 128, 4
    policy = make_policy(d_model=d, n_layers=n)
    scale = 0.67 * n ** (-0.25)

    def xavier_std(w: torch.Tensor) -> float:
        fan_out, fan_in = w.shape
        return math.sqrt(2.0 / (fan_in + fan_out))  # std of Xavier-uniform, gain 1

    emb = policy.embedding.weight
    assert emb.std().item() == pytest.approx(d**-0.5 * (9 * n) ** (-0.25), rel=0.05)
    for layer in policy.layers:
        for w in (layer.linear1.weight, layer.linear2.weight, layer.self_attn.out_proj.weight):
            assert w.std().item() == pytest.approx(scale * xavier_std(w), rel=0.05)
            bound = scale * math.sqrt(3) * xavier_std(w)
            assert w.abs().max().item() <= bound + 1e-6
        qkv = layer.self_attn.in_proj_weight  # fused (3d, d): Xavier over the whole matrix, then x sqrt(2)
        assert qkv.shape == (3 * d, d)
        assert qkv.std().item() == pytest.approx(scale * math.sqrt(2) * xavier_std(qkv), rel=0.05)
        assert torch.all(layer.self_attn.in_proj_bias == 0) and torch.all(layer.self_attn.out_proj.bias == 0)


def test_without_tfixup_every_matrix_is_plain_xavier():
    policy = make_policy(tfixup=False)
    w = policy.layers[0].linear1.weight
    fan_out, fan_in = w.shape
    assert w.std().item() == pytest.approx(math.sqrt(2.0 / (fan_in + fan_out)), rel=0.05)


def test_gaussian_head_init_log_std_and_output_gain():
    torch.manual_seed(0)
    head = GaussianMLPHead(128, 6, (64, 64), init_std=0.5, min_std=1e-6, output_gain=0.01)
    assert head.log_std.shape == (6,)  # garage: one learned log-std per action dimension
    np.testing.assert_allclose(head.log_std.detach().numpy(), math.log(0.5), rtol=1e-6)
    out = head.mean_net[-1]
    assert out.weight.abs().max().item() <= 0.01 * math.sqrt(6 / (64 + 6)) + 1e-9
    assert torch.all(out.bias == 0) and torch.all(head.mean_net[0].bias == 0)
    assert isinstance(head.mean_net[1], nn.Tanh)
    with torch.no_grad():
        head.log_std.fill_(-50.0)
    np.testing.assert_allclose(head(torch.zeros(2, 128))[1].detach().numpy(), math.log(1e-6), rtol=1e-6)


def test_positional_encoding_and_mask():
    pe = sinusoidal_encoding(5, 8)
    np.testing.assert_allclose(pe[0], [0, 1, 0, 1, 0, 1, 0, 1], atol=1e-7)
    assert pe[1, 0].item() == pytest.approx(math.sin(1.0))
    mask = causal_mask(3)
    assert torch.equal(torch.isinf(mask), torch.tensor([[0, 1, 1], [0, 0, 1], [0, 0, 0]], dtype=torch.bool))


def test_encoder_is_causal():
    policy = make_policy(d_model=32, n_heads=4, dim_ff=64, n_layers=2)
    windows = torch.randn(3, 5, 25)
    changed = windows.clone()
    changed[:, 3:] = torch.randn(3, 2, 25)  # later tokens change
    with torch.no_grad():
        a, b = policy.encode(windows), policy.encode(changed)
        torch.testing.assert_close(a[:, :3], b[:, :3])
        assert not torch.allclose(a[:, 3:], b[:, 3:])
        index = torch.tensor([0, 1, 2])
        torch.testing.assert_close(policy.memory(windows, index), policy.memory(changed, index))


def test_last_layer_shortcut_equals_the_full_encoder_readout():
    policy = make_policy(d_model=32, n_heads=4, dim_ff=64, n_layers=3)
    windows = torch.randn(6, 5, 25)
    index = torch.tensor([0, 1, 2, 3, 4, 4])
    with torch.no_grad():
        full = policy.encode(windows)[torch.arange(6), index]
        torch.testing.assert_close(policy.memory(windows, index), full, atol=1e-5, rtol=1e-5)


def test_encoder_layer_is_post_residual_without_norm():
    torch.manual_seed(0)
    layer = EncoderLayerNoLN(8, 2, 16)
    x = torch.randn(2, 4, 8)
    mask = causal_mask(4)
    attended, _ = layer.self_attn(x, x, x, attn_mask=mask)
    h = x + attended
    expected = h + layer.linear2(torch.relu(layer.linear1(h)))
    torch.testing.assert_close(layer(x, mask), expected)


def _module_attention_layer(layer: EncoderLayerNoLN) -> EncoderLayerNoLN:
    """``layer`` computing through ``nn.MultiheadAttention.forward`` (the code before the attention was
    written out), sharing the parameters."""

    def forward(x, mask=None):
        length = x.shape[1]
        causal = causal_mask(length) if mask is None else mask
        attended, _ = layer.self_attn(x, x, x, attn_mask=causal, need_weights=False)
        x = x + attended
        return x + layer.linear2(torch.relu(layer.linear1(x)))

    def forward_query(query, x, ignore):
        attended, _ = layer.self_attn(query, x, x, key_padding_mask=ignore, need_weights=False)
        query = query + attended
        return query + layer.linear2(torch.relu(layer.linear1(query)))

    reference = EncoderLayerNoLN.__new__(EncoderLayerNoLN)
    nn.Module.__init__(reference)
    reference.forward = forward  # type: ignore[method-assign]
    reference.forward_query = forward_query  # type: ignore[method-assign]
    return reference


@pytest.mark.parametrize(
    ("batch", "n_layers", "d_model", "n_heads"), [(1, 1, 8, 2), (7, 2, 32, 4), (256, 4, 128, 16)]
)
def test_written_out_attention_is_bit_identical_to_nn_multihead_attention(batch, n_layers, d_model, n_heads):
    """The layers' attention (SDPA on the module's parameters) gives exactly the outputs and gradients of
    ``nn.MultiheadAttention.forward`` on the CPU: outputs, the loss and every parameter's gradient, for
    windows filled to every length, with and without gradients. TrMRL's CPU results depend on it."""
    policy = make_policy(d_model=d_model, n_heads=n_heads, dim_ff=2 * d_model, n_layers=n_layers)
    g = torch.Generator().manual_seed(batch)
    windows = torch.randn(batch, 5, 25, generator=g)
    index = torch.arange(batch) % 5

    def outputs_and_grads(layers):
        policy.zero_grad()  # before the swap: the stand-in layers do not list the parameters they use
        saved = policy.layers
        policy.layers = nn.ModuleList(layers)
        try:
            mean, _ = policy(windows, index)
            full = policy.encode(windows)
            (mean.square().sum() + full.square().mean()).backward()
            with torch.no_grad():
                acting = policy(windows, index)[0]
        finally:
            policy.layers = saved
        grads = [p.grad.clone() for p in policy.parameters() if p.grad is not None]
        return [mean.detach(), full.detach(), acting, *grads]

    written_out = outputs_and_grads(list(policy.layers))
    module = outputs_and_grads([_module_attention_layer(layer) for layer in policy.layers])
    assert len(written_out) == len(module) > 3
    for ours, theirs in zip(written_out, module, strict=True):
        assert torch.equal(ours, theirs)


def test_shared_value_function_reads_the_transformer_memory():
    policy = make_policy(d_model=32, n_heads=4, dim_ff=64, n_layers=2)
    shared = ValueFunction(25, (64, 64), 1.0, base=policy)
    alone = ValueFunction(25, (64, 64), 1.0)
    assert shared.shared and not alone.shared
    assert shared.head.mean_net[0].in_features == 32 and alone.head.mean_net[0].in_features == 25
    # The shared transformer is not duplicated in the value function's own parameters.
    assert {id(p) for p in shared.parameters()}.isdisjoint({id(p) for p in policy.parameters()})
    windows, index = torch.randn(4, 5, 25), torch.tensor([0, 1, 2, 4])
    values, log_std = shared(windows[:, 0], windows, index)
    assert values.shape == (4,) and log_std.item() == pytest.approx(0.0)


def test_working_memory_fills_then_shifts_fifo_and_resets():
    memory = WorkingMemory(2, 3, 1)
    for t in range(1, 6):
        memory.push(np.array([[t], [10 * t]], dtype=np.float32), mask=np.array([True, t <= 2]))
        if t == 2:
            np.testing.assert_array_equal(memory.windows[0, :, 0], [1, 2, 0])  # filled left to right
            np.testing.assert_array_equal(memory.index, [1, 1])
    np.testing.assert_array_equal(memory.windows[0, :, 0], [3, 4, 5])  # shifted: oldest dropped
    np.testing.assert_array_equal(memory.windows[1, :, 0], [10, 20, 0])  # masked row untouched
    np.testing.assert_array_equal(memory.index, [2, 1])
    memory.reset(np.array([True, False]))
    np.testing.assert_array_equal(memory.windows[0], 0)
    assert memory.count[0] == 0 and memory.count[1] == 2
    memory.push(np.zeros((2, 1), dtype=np.float32))  # a genuinely all-zero token still counts
    np.testing.assert_array_equal(memory.index, [0, 2])
