"""Shared, pure, unit-tested pieces for on-policy meta-RL agents (TrMRL now; RL² and MAML may reuse them).

- :mod:`agents.common.returns`: discounted returns and GAE over one trajectory (a whole trial for RL²-style
  agents).
- :mod:`agents.common.losses`: PPO's clipped surrogate and the Gaussian negative log-likelihood value loss.
- :mod:`agents.common.gaussian`: an MLP Gaussian head with a state-independent learned log-std.
- :mod:`agents.common.schedules`: garage's per-minibatch geometric learning-rate decay.
"""
