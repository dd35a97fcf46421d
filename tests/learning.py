"""Shared arithmetic of the slow learning checks (tests/slow/)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from scipy import stats  # a dependency of metaworld, so always installed with the suites

PRECISION = os.environ.get("LEARNING_PRECISION", "fp32")
"""the precision the learning checks of PEARL and TrMRL train at (``LEARNING_PRECISION=bf16`` checks the
bf16 autocast of their updates; acting and evaluation are float32 either way)"""


def t_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval of the mean of one value per seed."""
    x = np.asarray(values, dtype=np.float64)
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean()), float(x.mean() - half), float(x.mean() + half)
