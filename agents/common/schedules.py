"""garage's learning-rate decay as used by TrMRL (``torch/optimizers/optimizer_wrapper.py``).

``LRDecayOptimizerWrapper`` builds a ``MultiStepLR`` with milestones every ``steps_per_epoch`` minibatch
steps from ``decay_epoch_init * steps_per_epoch`` to ``decay_epoch_end * steps_per_epoch`` (exclusive) and
``gamma = min_lr_factor ** (1 / #milestones)``, and calls ``scheduler.step(k)`` with the count ``k`` of
earlier minibatch steps before each step, so the rate at step ``k`` is
``lr * gamma ** #{milestones <= k}``: it falls geometrically from ``lr`` to ``lr * min_lr_factor`` and then
stays there. We compute that closed form directly instead of driving the deprecated ``step(epoch)`` call;
a unit test checks it against ``torch.optim.lr_scheduler.MultiStepLR``.
"""

from __future__ import annotations

import numpy as np


def decay_milestones(steps_per_epoch: int, decay_epoch_init: int, decay_epoch_end: int) -> np.ndarray:
    """Minibatch-step milestones of the decay: ``arange(init * spe, end * spe, spe)``."""
    if steps_per_epoch <= 0 or decay_epoch_end <= decay_epoch_init:
        raise ValueError("need steps_per_epoch > 0 and decay_epoch_end > decay_epoch_init")
    return np.arange(decay_epoch_init * steps_per_epoch, decay_epoch_end * steps_per_epoch, steps_per_epoch)


class StepDecay:
    """Multiplier of the base learning rate for the ``k``-th (0-based) minibatch update.

    Args:
        steps_per_epoch: minibatch steps the schedule assumes per training iteration.
        decay_epoch_init: iteration at which the decay starts.
        decay_epoch_end: iteration at which it reaches ``min_lr_factor``.
        min_lr_factor: final multiplier.
    """

    def __init__(
        self, steps_per_epoch: int, decay_epoch_init: int, decay_epoch_end: int, min_lr_factor: float
    ) -> None:
        self.milestones = decay_milestones(steps_per_epoch, decay_epoch_init, decay_epoch_end)
        self.gamma = float(min_lr_factor ** (1.0 / len(self.milestones)))

    def __call__(self, step: int) -> float:
        passed = int(np.searchsorted(self.milestones, step, side="right"))  # = bisect_right
        return float(self.gamma**passed)
