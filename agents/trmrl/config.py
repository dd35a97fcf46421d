"""TrMRL's configuration: one frozen dataclass (defaults: the HalfCheetahVel row of the original README).

The values per suite and tier, each with its source in luckeciano/transformers-metarl, are in
:mod:`agents.trmrl.provenance`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from benchmark.config import check_non_negative, check_positive, check_sizes, check_unit_interval
from benchmark.suites import SUITES


@dataclass(frozen=True, kw_only=True)
class TrMRLConfig:
    """Configuration of the TrMRL agent (defaults: the HalfCheetahVel row of the original README)."""

    # --- working memory and transformer (gaussian_transformer_encoder_policy.py) ---
    wm_size: int = 5
    """tokens in the working-memory window (``--wm_size``)"""
    memory_scope: Literal["episode", "trial"] = "episode"
    """``episode``: clear the window at every episode start (the original); ``trial``: keep it over a trial"""
    normalize_tokens: bool = False
    """running mean/std normalisation of tokens (the original's off-by-default ``normalized_wm``)"""
    d_model: int = 128
    """width of the token embedding and of the encoder (``--d_model``)"""
    n_heads: int = 16
    """attention heads (``--n_heads``)"""
    dim_ff: int = 512
    """hidden width of each encoder layer's feed-forward block (``--dim_ff``)"""
    n_layers: int = 4
    """encoder layers, post-residual without LayerNorm (``--layers``, ``--remove_ln``)"""
    tfixup: bool = True
    """T-Fixup initialisation as the original applies it (``--tfixup``)"""
    policy_hidden_sizes: tuple[int, ...] = (64, 64)
    """hidden layers of the Gaussian policy head (tanh)"""
    init_std: float = 0.2
    """initial standard deviation of the policy (``--init_std``)"""
    min_std: float = 1e-6
    """lower clamp of the policy's standard deviation (launcher default)"""
    output_gain: float = 1.0
    """gain of the Xavier init of the policy head's output layer (``--output_weights_scale``)"""
    # --- value function (gaussian_mlp_value_function.py) ---
    share_network: bool = False
    """value head on the transformer's output, trained through it (``--share_network``); else on the token"""
    value_hidden_sizes: tuple[int, ...] = (64, 64)
    """hidden layers of the Gaussian value function (tanh)"""
    value_init_std: float = 1.0
    """initial standard deviation of the value function's Gaussian (garage default)"""
    # --- sampling (rl2.py) ---
    meta_batch_size: int = 20
    """trials (one task each) per training iteration (``--meta_batch_size``)"""
    episodes_per_trial: int = 2
    """episodes per training trial (``--episode_per_task``)"""
    # --- PPO (rl2ppo.py, ppo.py, vpg.py) ---
    discount: float = 0.9
    """gamma over the concatenated trial (``--discount``)"""
    gae_lambda: float = 0.8
    """GAE lambda (``--gae_lambda``)"""
    clip_range: float = 0.1
    """PPO likelihood-ratio clip epsilon (``--lr_clip_range``)"""
    policy_lr: float = 3e-5
    """AdamW learning rate of the policy (``--policy_lr``)"""
    value_lr: float = 2.5e-4
    """AdamW learning rate of the value function (``--vf_lr``)"""
    weight_decay: float = 0.01
    """AdamW weight decay (torch's default, which the original kept)"""
    minibatch_size: int = 256
    """samples (windows) per minibatch (``--minibatch_size``)"""
    opt_epochs: int = 10
    """passes over the batch, first for the policy, then for the value function (``--max_opt_epochs``)"""
    policy_lr_schedule: Literal["none", "decay"] = "decay"
    """``decay``: garage's per-minibatch geometric decay; ``none``: constant"""
    value_lr_schedule: Literal["none", "decay"] = "none"
    """schedule of the value function's learning rate"""
    decay_epoch_init: int = 100
    """training iteration at which the decay starts"""
    decay_epoch_end: int = 750
    """training iteration at which the rate reaches ``lr * min_lr_factor``"""
    min_lr_factor: float = 0.1
    """final learning-rate multiplier of the decay"""
    n_epochs: int = 2500
    """training iterations of the original run (recorded; the harness's env-step budget decides)"""

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field out of range (before anything is built or written)."""
        check_positive(
            self,
            "wm_size d_model n_heads dim_ff n_layers meta_batch_size episodes_per_trial minibatch_size "
            "opt_epochs policy_lr value_lr init_std min_std output_gain value_init_std clip_range",
        )
        check_unit_interval(self, "discount gae_lambda min_lr_factor", low_open=True)
        check_non_negative(self, "weight_decay decay_epoch_init n_epochs")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        if self.decay_epoch_end <= self.decay_epoch_init:
            raise ValueError("decay_epoch_end must be larger than decay_epoch_init")
        if self.min_std > self.init_std:
            raise ValueError(f"min_std ({self.min_std}) must not exceed init_std ({self.init_std})")
        check_sizes(self, "policy_hidden_sizes value_hidden_sizes")


def validate_for_suite(config: TrMRLConfig, suite: str) -> None:
    """Field ranges, and a Meta-World meta-batch that is a multiple of the suite's training classes."""
    config.validate()
    classes = SUITES[suite].train_classes
    if classes > 1 and config.meta_batch_size % classes:
        raise ValueError(
            f"meta_batch_size {config.meta_batch_size} is not a multiple of the {classes} training "
            f"classes of {suite} (class-stratified task sampling, as garage's MetaWorldTaskSampler)"
        )
