"""Fixed normalisation references per suite, with where each number comes from (``references.csv``).

A normalised score is ``(score - lower) / (upper - lower)``: 0 is the random policy, 1 a documented upper
reference (an oracle that knows the task, a bound of the reward, or 100 % success). The references are
fixed, so adding or removing a method never rescales anyone else (the old "1.0 = best method present"
made RL² 1.0 by definition on halfcheetah-vel, where it stood nearly still).

``references.csv`` columns: ``suite, metric, lower, lower_provenance, upper, upper_kind,
upper_provenance``; ``upper`` is empty where no upper reference could be documented, and such a suite is
left out of the aggregates (it still appears in every per-suite figure). ``upper_kind`` says what the
upper reference is: ``oracle`` (a policy that knows the task, computed: exactly optimal on point-nav,
``scripts/point_nav_oracle.py``; MPPI planning on the true simulator for the MuJoCo suites,
``scripts/mpc_oracle.py``, which bounds the optimum from below, so a learned policy can score above 1),
``bound`` (a supremum of the reward no policy attains), ``definition`` (100 % success) or ``none``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

PATH = Path(__file__).with_name("references.csv")
UPPER_KINDS = ("oracle", "bound", "definition", "published", "none")


@dataclass(frozen=True)
class Reference:
    """The 0 and 1 of one suite's normalised score, in the suite's plotted unit (return, or success %)."""

    suite: str
    metric: str
    lower: float
    lower_provenance: str
    upper: float | None
    upper_kind: str
    upper_provenance: str

    @property
    def usable(self) -> bool:
        """Whether scores can be normalised (an upper reference exists and lies above the lower one)."""
        return self.upper is not None and self.upper > self.lower


def load(path: str | Path = PATH) -> dict[str, Reference]:
    """Read the references table: suite -> :class:`Reference`.

    Raises:
        ValueError: a malformed row (missing provenance, unknown kind, NaN lower, upper below lower).
    """
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    expected = ["suite", "metric", "lower", "lower_provenance", "upper", "upper_kind", "upper_provenance"]
    if list(frame.columns) != expected:
        raise ValueError(f"{path}: columns {list(frame.columns)}, expected {expected}")
    out: dict[str, Reference] = {}
    for row in frame.itertuples(index=False):
        lower = float(row.lower)
        upper = float(row.upper) if row.upper.strip() else None
        if not math.isfinite(lower):
            raise ValueError(f"{path}: suite {row.suite!r} has no finite lower reference")
        if row.upper_kind not in UPPER_KINDS:
            raise ValueError(f"{path}: suite {row.suite!r} has upper_kind {row.upper_kind!r}")
        if (upper is None) != (row.upper_kind == "none"):
            raise ValueError(f"{path}: suite {row.suite!r}: an empty upper needs upper_kind 'none'")
        if upper is not None and upper <= lower:
            raise ValueError(f"{path}: suite {row.suite!r} has upper {upper} <= lower {lower}")
        if not row.lower_provenance.strip() or not row.upper_provenance.strip():
            raise ValueError(f"{path}: suite {row.suite!r} lacks a provenance")
        out[row.suite] = Reference(
            row.suite,
            row.metric,
            lower,
            row.lower_provenance,
            upper,
            row.upper_kind,
            row.upper_provenance,
        )
    return out


def table(references: dict[str, Reference] | None = None) -> pd.DataFrame:
    """The references as a frame (one row per suite), for CSVs and the report."""
    references = load() if references is None else references
    return pd.DataFrame([r.__dict__ for r in references.values()]).assign(
        usable=[r.usable for r in references.values()]
    )
