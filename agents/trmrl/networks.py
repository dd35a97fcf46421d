"""TrMRL's networks: the working-memory transformer policy and the Gaussian value function.

A plain re-statement of ``GaussianTransformerEncoderPolicy`` (``gaussian_transformer_encoder_policy.py``)
with ``--architecture=Encoder --policy_head_input=latest_memory --remove_ln --tfixup``:

    window `(B, wm_size, token_dim)` -> Linear(token_dim, d_model, bias=False) -> + sinusoidal PE
    -> N x [x = x + MHA(x, x, x, causal); x = x + W2 ReLU(W1 x)]   (no LayerNorm, dropout 0)
    -> output at the latest filled slot `(B, d_model)` -> Gaussian MLP head (64, 64, tanh).

We write the encoder loop ourselves instead of ``nn.TransformerEncoder``: torch >= 2 passes ``is_causal`` to
each layer and may take a fused fast path, and the original's custom layer (``transformer_no_ln.py``) would
not accept the former; a plain loop computes exactly ``TransformerEncoderLayerNoLN``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.common.gaussian import GaussianMLPHead


def sinusoidal_encoding(length: int, d_model: int) -> torch.Tensor:
    """`(length, d_model)` sin/cos positional encoding (Vaswani et al. 2017), added unscaled (original)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])
    return pe


def causal_mask(length: int) -> torch.Tensor:
    """Additive `(length, length)` mask: 0 where key ``j <= i`` (query), ``-inf`` above the diagonal."""
    return torch.triu(torch.full((length, length), float("-inf")), diagonal=1)


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **options: Any) -> torch.Tensor:
    """``F.scaled_dot_product_attention``; under a CPU autocast (``--precision bf16``) in float32.

    At TrMRL's shapes (5 keys, 8 dimensions per head) the CPU's bfloat16 attention kernel takes twice the
    float32 kernel's time (measured with ``python -m agents.trmrl.bench``), while the matrix products around
    it gain 2-4x from bfloat16: so the projections run in bfloat16 and the attention in float32. Without
    autocast (fp32) this is the plain call; a GPU's autocast keeps its bfloat16 kernel.
    """
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            return F.scaled_dot_product_attention(q.float(), k.float(), v.float(), **options)
    return F.scaled_dot_product_attention(q, k, v, **options)


class EncoderLayerNoLN(nn.Module):
    """One post-residual encoder layer without LayerNorm (``transformer_no_ln.py``), ReLU, dropout 0.

    Parameter names follow ``nn.TransformerEncoderLayer`` (``self_attn.in_proj_weight``,
    ``self_attn.out_proj``, ``linear1``, ``linear2``) so that the T-Fixup scaling reads as in the original.

    The attention is ``nn.MultiheadAttention``'s computation written out (the module only holds the
    parameters): the same in- and out-projections on the same sequence-first layout and the same fused
    ``scaled_dot_product_attention`` kernel, without the module's copy of the projections, its float
    masks (the causal layers pass ``is_causal``, the last layer a boolean key mask) and its reshapes. The
    outputs and every gradient are bit-identical to the module's on the CPU
    (``tests/unit/test_trmrl_networks.py`` checks it); the layout matters: projecting batch-first would sum
    the weight gradients over the rows in another order and change them in the last bits.
    """

    def __init__(self, d_model: int, n_heads: int, dim_ff: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, n_heads, dropout=0.0, batch_first=True)
        self.linear1 = nn.Linear(d_model, dim_ff)
        self.linear2 = nn.Linear(dim_ff, d_model)

    def _heads(self, proj: torch.Tensor, parts: int) -> tuple[torch.Tensor, ...]:
        """`(L, B, parts * d)` sequence-first projections -> ``parts`` views `(B, heads, L, d / heads)`."""
        length, batch, _ = proj.shape
        heads = self.self_attn.num_heads
        split = proj.view(length, batch, parts, heads, self.self_attn.head_dim)
        return tuple(split.permute(2, 1, 3, 0, 4).unbind(0))

    def _out(self, attended: torch.Tensor) -> torch.Tensor:
        """`(B, heads, L, d / heads)` -> the output projection, batch-first `(B, L, d)`."""
        batch, _, length, _ = attended.shape
        flat = attended.permute(2, 0, 1, 3).reshape(length * batch, self.self_attn.embed_dim)
        out_proj = self.self_attn.out_proj
        return F.linear(flat, out_proj.weight, out_proj.bias).view(length, batch, -1).transpose(0, 1)

    def attend(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Self-attention of `(B, L, d)` under the additive ``mask``, causal if ``None``."""
        attn = self.self_attn
        q, k, v = self._heads(F.linear(x.transpose(0, 1), attn.in_proj_weight, attn.in_proj_bias), 3)
        if mask is None:
            attended = _attention(q, k, v, is_causal=True)
        else:
            attended = _attention(q, k, v, attn_mask=mask)
        return self._out(attended)

    def attend_query(self, query: torch.Tensor, x: torch.Tensor, ignore: torch.Tensor) -> torch.Tensor:
        """Attention of `(B, 1, d)` queries over `(B, L, d)` keys, without the keys where ``ignore``."""
        attn = self.self_attn
        d = attn.embed_dim
        w_q, w_kv = attn.in_proj_weight.split([d, 2 * d])
        b_q, b_kv = attn.in_proj_bias.split([d, 2 * d])
        (q,) = self._heads(F.linear(query.transpose(0, 1), w_q, b_q), 1)
        k, v = self._heads(F.linear(x.transpose(0, 1), w_kv, b_kv), 2)
        keep = ~ignore[:, None, None, :]  # `(B, 1, 1, L)`: every head, the one query
        return self._out(_attention(q, k, v, attn_mask=keep))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """`(B, L, d_model)` -> `(B, L, d_model)` under the additive ``mask`` (causal if ``None``)."""
        x = x + self.attend(x, mask)
        return x + self.linear2(torch.relu(self.linear1(x)))

    def forward_query(self, query: torch.Tensor, x: torch.Tensor, ignore: torch.Tensor) -> torch.Tensor:
        """The same layer evaluated at one position per sample: `(B, 1, d)` query over `(B, L, d)` keys.

        With ``ignore`` (`(B, L)`, True for keys after the query's position) this equals row ``index`` of
        :meth:`forward` under the causal mask; it saves the other rows' work in the last layer.
        """
        query = query + self.attend_query(query, x, ignore)
        return query + self.linear2(torch.relu(self.linear1(query)))


class TransformerPolicy(nn.Module):
    """The working-memory transformer with its Gaussian head.

    Args:
        token_dim: size of a token ``[obs, prev action, prev reward, done]``.
        act_dim: action dimensions.
        wm_size, d_model, n_heads, dim_ff, n_layers, tfixup: see :class:`~agents.trmrl.config.TrMRLConfig`.
        hidden_sizes, init_std, min_std, output_gain: the Gaussian head's.
    """

    def __init__(
        self,
        token_dim: int,
        act_dim: int,
        wm_size: int,
        d_model: int,
        n_heads: int,
        dim_ff: int,
        n_layers: int,
        tfixup: bool,
        hidden_sizes: tuple[int, ...],
        init_std: float,
        min_std: float | None,
        output_gain: float,
    ) -> None:
        super().__init__()
        self.wm_size = wm_size
        self.d_model = d_model
        self.embedding = nn.Linear(token_dim, d_model, bias=False)
        # nn.TransformerEncoder(layer, num_layers) deep-copies one template layer (the original's
        # gaussian_transformer_encoder_policy.py:130-146); the init below redraws every matrix, so the
        # feed-forward biases start identical in every layer, as there.
        template = EncoderLayerNoLN(d_model, n_heads, dim_ff)
        self.layers = nn.ModuleList(copy.deepcopy(template) for _ in range(n_layers))
        self.register_buffer("positional_encoding", sinusoidal_encoding(wm_size, d_model), persistent=False)
        init_transformer(self.embedding, self.layers, d_model, n_layers, tfixup)
        self.head = GaussianMLPHead(
            d_model, act_dim, hidden_sizes, init_std, min_std, output_gain, learn_std=True
        )

    def memory(self, windows: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Transformer output at each window's latest filled slot.

        Args:
            windows: `(B, wm_size, token_dim)` zero-padded on the right.
            index: `(B,)` int64 position of the latest token.

        Returns:
            `(B, d_model)`.
        """
        x = self.embedding(windows) + self.positional_encoding
        *inner, last = self.layers
        assert isinstance(last, EncoderLayerNoLN)
        for layer in inner:
            x = layer(x)  # causal
        # Only the latest slot feeds the head, and the mask is causal: the last layer needs just that row.
        # Positions are made on the inputs' device: a CPU arange against CUDA tensors fails on a GPU.
        query = x[torch.arange(x.shape[0], device=x.device), index].unsqueeze(1)
        ignore = torch.arange(self.wm_size, device=index.device) > index.unsqueeze(1)
        return last.forward_query(query, x, ignore).squeeze(1)

    def encode(self, windows: torch.Tensor) -> torch.Tensor:
        """`(B, wm_size, d_model)` outputs at every position (the original's full computation)."""
        x = self.embedding(windows) + self.positional_encoding
        for layer in self.layers:
            x = layer(x)  # causal
        return x

    def forward(self, windows: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(B, act_dim)` action means and the `(act_dim,)` log-std, float32 (also under autocast)."""
        mean, log_std = self.head(self.memory(windows, index))
        return mean.float(), log_std


def init_transformer(
    embedding: nn.Linear, layers: nn.ModuleList, d_model: int, n_layers: int, tfixup: bool
) -> None:
    """The original's initialisation (``gaussian_transformer_encoder_policy.py.__init__``).

    Xavier-uniform on every encoder matrix; with ``tfixup``: embedding ~ N(0, d_model^-1/2) times
    ``(9 N)^-1/4``; ``linear1``, ``linear2`` and ``out_proj`` weights times ``0.67 N^-1/4``; the fused
    ``in_proj_weight`` (Q, K, V) times ``0.67 N^-1/4 sqrt(2)``. Biases keep PyTorch's defaults
    (``nn.MultiheadAttention`` zeroes its own), drawn once for the template layer that every layer
    copies. Note the original passes ``d_model ** -0.5`` as the normal's *standard deviation*; we do the
    same.
    """
    for p in layers.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    if not tfixup:
        return
    scale = 0.67 * n_layers ** (-0.25)
    with torch.no_grad():
        nn.init.normal_(embedding.weight, 0.0, d_model ** (-0.5))
        embedding.weight.mul_((9 * n_layers) ** (-0.25))
        for layer in layers:
            assert isinstance(layer, EncoderLayerNoLN)
            layer.linear1.weight.mul_(scale)
            layer.linear2.weight.mul_(scale)
            layer.self_attn.out_proj.weight.mul_(scale)
            layer.self_attn.in_proj_weight.mul_(scale * 2**0.5)


class ValueFunction(nn.Module):
    """garage's ``GaussianMLPValueFunction``: a Gaussian over returns with a learned scalar std.

    Without ``base`` the input is the single-step token; with it (``--share_network``) the input is the
    policy transformer's memory and the transformer is trained by the value loss too.
    """

    def __init__(
        self,
        token_dim: int,
        hidden_sizes: tuple[int, ...],
        init_std: float,
        base: TransformerPolicy | None = None,
    ) -> None:
        super().__init__()
        self.base = [base]  # a list: not registered as a submodule, so state_dicts do not duplicate it
        input_dim = base.d_model if base is not None else token_dim
        self.head = GaussianMLPHead(input_dim, 1, hidden_sizes, init_std, None, 1.0, learn_std=True)

    @property
    def shared(self) -> bool:
        return self.base[0] is not None

    def forward(
        self, tokens: torch.Tensor, windows: torch.Tensor, index: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`(B,)` predicted values (the Gaussian's mean) and the `(1,)` log-std."""
        base = self.base[0]
        features = base.memory(windows, index) if base is not None else tokens
        mean, log_std = self.head(features)
        return mean.squeeze(-1).float(), log_std  # float32, also under autocast


class WorkingMemory:
    """A batch of zero-padded FIFO windows of the last ``wm_size`` tokens (``_update_prev_observations``).

    The first ``wm_size`` tokens of an episode fill slots 0, 1, ...; afterwards the window shifts left and
    the newest token goes last. The original finds the latest slot by searching for the first all-zero row
    (``_compute_memory_index``), which breaks on a genuinely all-zero token; we count the fill instead.
    """

    def __init__(self, num: int, wm_size: int, token_dim: int) -> None:
        self.windows = np.zeros((num, wm_size, token_dim), dtype=np.float32)
        self.count = np.zeros(num, dtype=np.int64)

    @property
    def wm_size(self) -> int:
        return self.windows.shape[1]

    @property
    def index(self) -> np.ndarray:
        """`(num,)` position of the latest token in each window (0 for an empty window)."""
        return np.maximum(np.minimum(self.count, self.wm_size) - 1, 0)

    def reset(self, mask: np.ndarray | None = None) -> None:
        """Empty the windows of the rows in ``mask`` (all rows if ``None``)."""
        rows = slice(None) if mask is None else np.asarray(mask, dtype=bool)
        self.windows[rows] = 0.0
        self.count[rows] = 0

    def push(self, tokens: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Append `(num, token_dim)` ``tokens`` to the windows of the rows in ``mask`` (all if ``None``)."""
        rows = np.ones(len(self.count), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        filling = rows & (self.count < self.wm_size)
        full = rows & ~filling
        if filling.any():
            idx = np.flatnonzero(filling)
            self.windows[idx, self.count[idx]] = tokens[idx]
        if full.any():
            self.windows[full, :-1] = self.windows[full, 1:]
            self.windows[full, -1] = tokens[full]
        self.count[rows] += 1
