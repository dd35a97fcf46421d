"""TrMRL's configuration: one frozen dataclass (defaults: the HalfCheetahVel row of the original README).

The values per suite and tier, each with its source in luckeciano/transformers-metarl, are in
:mod:`agents.trmrl.provenance`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

from benchmark.constraints import Relation, checked, flag, fraction, integer, layer_widths, number, one_of

MemoryScope = Literal["episode", "trial"]
Schedule = Literal["none", "decay"]


@dataclass(frozen=True, kw_only=True)
class TrMRLConfig:
    """Configuration of the TrMRL agent (defaults: the HalfCheetahVel row of the original README)."""

    # --- working memory and transformer (gaussian_transformer_encoder_policy.py) ---
    wm_size: int = checked(5, integer(at_least=1))
    """tokens in the working-memory window (``--wm_size``)"""
    memory_scope: MemoryScope = checked("episode", one_of(*get_args(MemoryScope)))
    """``episode``: clear the window at every episode start (the original); ``trial``: keep it over a trial"""
    normalize_tokens: bool = checked(False, flag())
    """running mean/std normalisation of tokens (the original's off-by-default ``normalized_wm``)"""
    d_model: int = checked(128, integer(at_least=1))
    """width of the token embedding and of the encoder (``--d_model``)"""
    n_heads: int = checked(16, integer(at_least=1))
    """attention heads (``--n_heads``)"""
    dim_ff: int = checked(512, integer(at_least=1))
    """hidden width of each encoder layer's feed-forward block (``--dim_ff``)"""
    n_layers: int = checked(4, integer(at_least=1))
    """encoder layers, post-residual without LayerNorm (``--layers``, ``--remove_ln``)"""
    tfixup: bool = checked(True, flag())
    """T-Fixup initialisation as the original applies it (``--tfixup``)"""
    policy_hidden_sizes: tuple[int, ...] = checked((64, 64), layer_widths())
    """hidden layers of the Gaussian policy head (tanh)"""
    init_std: float = checked(0.2, number(above=0))
    """initial standard deviation of the policy (``--init_std``)"""
    min_std: float = checked(1e-6, number(above=0))
    """lower clamp of the policy's standard deviation (launcher default)"""
    output_gain: float = checked(1.0, number(above=0))
    """gain of the Xavier init of the policy head's output layer (``--output_weights_scale``)"""
    # --- value function (gaussian_mlp_value_function.py) ---
    share_network: bool = checked(False, flag())
    """value head on the transformer's output, trained through it (``--share_network``); else on the token"""
    value_hidden_sizes: tuple[int, ...] = checked((64, 64), layer_widths())
    """hidden layers of the Gaussian value function (tanh)"""
    value_init_std: float = checked(1.0, number(above=0))
    """initial standard deviation of the value function's Gaussian (garage default)"""
    # --- sampling (rl2.py) ---
    meta_batch_size: int = checked(20, integer(at_least=1))
    """trials (one task each) per training iteration (``--meta_batch_size``)"""
    episodes_per_trial: int = checked(2, integer(at_least=1))
    """episodes per training trial (``--episode_per_task``)"""
    # --- PPO (rl2ppo.py, ppo.py, vpg.py) ---
    discount: float = checked(0.9, fraction(open_low=True))
    """gamma over the concatenated trial (``--discount``)"""
    gae_lambda: float = checked(0.8, fraction(open_low=True))
    """GAE lambda (``--gae_lambda``)"""
    clip_range: float = checked(0.1, number(above=0))
    """PPO likelihood-ratio clip epsilon (``--lr_clip_range``)"""
    policy_lr: float = checked(3e-5, number(above=0))
    """AdamW learning rate of the policy (``--policy_lr``)"""
    value_lr: float = checked(2.5e-4, number(above=0))
    """AdamW learning rate of the value function (``--vf_lr``)"""
    weight_decay: float = checked(0.01, number(at_least=0))
    """AdamW weight decay (torch's default, which the original kept)"""
    minibatch_size: int = checked(256, integer(at_least=1))
    """samples (windows) per minibatch (``--minibatch_size``)"""
    opt_epochs: int = checked(10, integer(at_least=1))
    """passes over the batch, first for the policy, then for the value function (``--max_opt_epochs``)"""
    policy_lr_schedule: Schedule = checked("decay", one_of(*get_args(Schedule)))
    """``decay``: garage's per-minibatch geometric decay; ``none``: constant"""
    value_lr_schedule: Schedule = checked("none", one_of(*get_args(Schedule)))
    """schedule of the value function's learning rate"""
    decay_epoch_init: int = checked(100, integer())
    """training iteration at which the decay starts"""
    decay_epoch_end: int = checked(750, integer(at_least=1))
    """training iteration at which the rate reaches ``lr * min_lr_factor``"""
    min_lr_factor: float = checked(0.1, fraction(open_low=True))
    """final learning-rate multiplier of the decay"""
    n_epochs: int = checked(2500, integer())
    """training iterations of the original run (recorded; the harness's env-step budget decides)"""

    relations: ClassVar[tuple[Relation, ...]] = (
        Relation(
            lambda c: c.d_model % c.n_heads == 0,
            "d_model ({d_model}) must be a multiple of n_heads ({n_heads})",
        ),
        Relation(
            lambda c: c.decay_epoch_end > c.decay_epoch_init,
            "decay_epoch_end ({decay_epoch_end}) must be larger than decay_epoch_init ({decay_epoch_init})",
        ),
        Relation(
            lambda c: c.min_std <= c.init_std, "min_std ({min_std}) must not exceed init_std ({init_std})"
        ),
    )
