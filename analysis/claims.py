"""The paper's claims as data (``claims.csv``), read against a results table with multiplicity control.

Each row of ``claims.csv`` states one comparison the paper makes: on a suite and split, a statistic of one
method against another method, against the method's own untrained agent, or against a number, and the
direction the paper states. :func:`evaluate` computes, per claim, the paired differences over seeds (within
a seed every method faces the same tasks and reset states), their mean with a 95 % Student-t interval, n,
a two-sided paired t-test's p-value, and the Holm-adjusted p-value within the claim's ``family`` (the
comparisons one figure of the paper makes together). The label says what the runs settle:

* **confirmed**: the Holm-adjusted test rejects "no difference" and the difference points the paper's way;
* **contradicted**: it rejects, and the difference points the other way;
* **consistent**: not rejected after Holm, the mean points the paper's way (nothing is settled);
* **not resolved**: not rejected after Holm, the mean points the other way (nothing is settled);
* **not testable here**: fewer than 2 paired seeds, or a method or suite the table does not hold.

Statistics: ``final`` (the suite's score, last episode of a trial), ``first_episode`` (the score of a
trial's first episode: adaptation within one episode) and ``gain`` (``final`` minus the same run's score
at env_steps 0, its own untrained agent). Each is read at the last grid point every run of the claim's
methods reached (:func:`read_point`): a method's own final point for a claim about it alone, the point
both reached for a comparison of two.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from analysis import stats, tables

CLAIMS_CSV = Path(__file__).with_name("claims.csv")
ALPHA = 0.05
STATISTICS = ("final", "first_episode", "gain")
DIRECTIONS = ("greater", "less")
LABELS = ("confirmed", "contradicted", "consistent", "not resolved", "not testable here")
CLAIM_COLUMNS = (
    "id",
    "family",
    "claim",
    "suite",
    "split",
    "statistic",
    "method",
    "versus",
    "direction",
    "paper_scale",
)


def load_claims(path: Path = CLAIMS_CSV) -> pd.DataFrame:
    """The claims table, checked: known statistics and directions, unique ids."""
    claims = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = set(CLAIM_COLUMNS) - set(claims.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    if claims["id"].duplicated().any():
        raise ValueError(f"{path}: duplicate claim ids {sorted(claims.loc[claims['id'].duplicated(), 'id'])}")
    bad = claims[~claims["statistic"].isin(STATISTICS) | ~claims["direction"].isin(DIRECTIONS)]
    if not bad.empty:
        raise ValueError(f"{path}: claim {bad['id'].iloc[0]} has an unknown statistic or direction")
    return claims


@dataclass(frozen=True)
class Differences:
    """The paired differences behind one claim, and the env_steps they were read at."""

    values: np.ndarray
    env_steps: int | None


def read_point(table: tables.ScoreTable, suite: str, methods: list[str]) -> int | None:
    """Where a claim is read: the last grid point every run of ``methods`` on ``suite`` reached (None when
    the table holds none of them). A claim about one method (a gain, a level) reads it at its own final
    point; a comparison of two reads both where both have been, so that a profile may give a method that
    samples slowly a smaller budget (``metaworld``) and every comparison is still at equal env steps."""
    ends = tables.method_end_points(table)
    ends = ends[(ends["suite"] == suite) & ends["method"].isin(methods)]
    return int(ends["end_env_steps"].min()) if not ends.empty else None


def _scores(
    table: tables.ScoreTable, suite: str, split: str, statistic: str, methods: list[str]
) -> pd.DataFrame:
    """Per run (``method, seed``) of ``methods`` the claim's statistic at :func:`read_point`:
    ``method, seed, env_steps, score``."""
    point = read_point(table, suite, methods)
    if point is None:
        return pd.DataFrame(columns=["method", "seed", "env_steps", "score"])
    common = pd.DataFrame({"suite": [suite], "common_env_steps": [point]})
    if statistic == "first_episode":
        episodes = tables.task_episode_scores(table, split)
        first = tables.plain(episodes[episodes["episode"] == 1].copy())
        per_eval = first.groupby([*tables.RUN_KEYS, "env_steps"], observed=True)["value"].mean()
        evaluations = per_eval.rename("score").reset_index()
    else:
        evaluations = tables.evaluation_scores(table, split)
    evaluations = evaluations[(evaluations["suite"] == suite) & evaluations["method"].isin(methods)]
    frame = tables.at_common_point(evaluations, common)
    if statistic == "gain":
        start = tables.evaluation_scores(table, split)
        start = start[(start["suite"] == suite) & (start["env_steps"] == 0)]
        frame = frame.merge(start[["run_id", "score"]], on="run_id", suffixes=("", "_at_0"))
        frame = frame.assign(score=frame["score"] - frame["score_at_0"])
    return frame[["method", "seed", "env_steps", "score"]]


def differences(table: tables.ScoreTable, claim: pd.Series) -> Differences:
    """The claim's per-seed differences ``method - versus`` (versus a method, the untrained agent for a
    ``gain``, or a number), read at :func:`read_point`."""
    versus = claim["versus"]
    alone = claim["statistic"] == "gain" or _is_number(versus)
    methods = [claim["method"]] if alone else [claim["method"], versus]
    scores = _scores(table, claim["suite"], claim["split"], claim["statistic"], methods)
    mine = scores[scores["method"] == claim["method"]]
    steps = int(mine["env_steps"].max()) if not mine.empty else None
    if alone:
        baseline = 0.0 if claim["statistic"] == "gain" else float(versus)
        return Differences(mine["score"].to_numpy(dtype=np.float64) - baseline, steps)
    other = scores[scores["method"] == versus]
    pairs = mine.merge(other, on="seed", suffixes=("", "_versus"))
    return Differences((pairs["score"] - pairs["score_versus"]).to_numpy(dtype=np.float64), steps)


def _interval_name(n: int) -> str:
    return f"95% Student-t over {n} paired seeds" if n > 1 else "none"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def label(direction: str, mean: float, p_adjusted: float, n: int) -> str:
    """The label of a claim from its adjusted test (see the module docstring)."""
    if n < 2 or not np.isfinite(p_adjusted):
        return "not testable here"
    points_the_papers_way = mean > 0 if direction == "greater" else mean < 0
    if p_adjusted < ALPHA:
        return "confirmed" if points_the_papers_way else "contradicted"
    return "consistent" if points_the_papers_way else "not resolved"


def evaluate(df: tables.Table, claims: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every claim read against the table: ``id, family, claim, suite, split, statistic, method, versus,
    direction, paper_scale, env_steps, n, mean, ci_low, ci_high, interval, p_raw, p_holm, label``.

    Holm's correction runs within each family over the claims the table can test.
    """
    claims = load_claims() if claims is None else claims
    table = tables.score_table(df)
    rows = []
    for _, claim in claims.iterrows():
        diff = differences(table, claim)
        interval = stats.t_interval(diff.values) if diff.values.size else None
        rows.append(
            {
                **claim.to_dict(),
                "env_steps": diff.env_steps,
                "n": int(diff.values.size),
                "mean": float(np.mean(diff.values)) if diff.values.size else np.nan,
                "ci_low": interval.low if interval is not None else np.nan,
                "ci_high": interval.high if interval is not None else np.nan,
                "interval": f"95% Student-t over {diff.values.size} paired seeds"
                if diff.values.size > 1
                else "none",
                "p_raw": stats.paired_p_value(diff.values),
            }
        )
    out = pd.DataFrame(rows)
    out["p_holm"] = np.nan
    for _, index in out.groupby("family", sort=False).groups.items():
        out.loc[index, "p_holm"] = stats.holm(out.loc[index, "p_raw"].to_numpy(dtype=np.float64))
    out["label"] = [label(r.direction, r.mean, r.p_holm, r.n) for r in out.itertuples(index=False)]
    return out


# ---- power: how many seeds a claim needs --------------------------------------------------------------

POWER = 0.8
MAX_SEEDS = 1000


def paired_t_power(effect: float, spread: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t-test at level ``alpha`` with ``n`` pairs, when the differences have
    mean ``effect`` and standard deviation ``spread`` (noncentral t)."""
    if n < 2 or spread <= 0:
        return float("nan")
    df = n - 1
    critical = scipy_stats.t.ppf(1 - alpha / 2, df)
    shift = effect / (spread / np.sqrt(n))
    # P(T > c) + P(T < -c), the second as P(T' > c) with T' of shift -shift (scipy's nct.cdf returns NaN
    # far in a tail); a tail that is still not finite is 0 to float precision.
    upper, lower = (scipy_stats.nct.sf(critical, df, sign * shift) for sign in (1.0, -1.0))
    return float(np.nan_to_num(upper) + np.nan_to_num(lower))


def seeds_for_power(effect: float, spread: float, power: float = POWER, alpha: float = ALPHA) -> int | None:
    """The fewest paired seeds (>= 2) at which :func:`paired_t_power` reaches ``power``; None when the
    observed effect is 0 or no number up to :data:`MAX_SEEDS` reaches it."""
    if not (np.isfinite(effect) and np.isfinite(spread)) or effect == 0 or spread <= 0:
        return None
    for n in range(2, MAX_SEEDS + 1):
        if paired_t_power(effect, spread, n, alpha) >= power:
            return n
    return None


def power_table(df: tables.Table, claims: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per claim with at least 2 paired seeds: the observed mean and spread of the paired differences and
    the seeds a paired t-test needs for 80 % power at that effect (``id, suite, split, statistic, method,
    versus, n, mean, sd, power_now, seeds_for_80``)."""
    claims = load_claims() if claims is None else claims
    table = tables.score_table(df)
    rows = []
    for _, claim in claims.iterrows():
        values = differences(table, claim).values
        if values.size < 2:
            continue
        mean, sd = float(values.mean()), float(values.std(ddof=1))
        rows.append(
            {
                **{k: claim[k] for k in ("id", "suite", "split", "statistic", "method", "versus")},
                "n": int(values.size),
                "mean": mean,
                "sd": sd,
                "power_now": paired_t_power(mean, sd, values.size),
                "seeds_for_80": seeds_for_power(mean, sd),
            }
        )
    return pd.DataFrame(rows)


# ---- the side-by-side document and the README's numbers, generated ------------------------------------

LABEL_MEANINGS = {
    "confirmed": "Holm-adjusted paired test rejects no difference, and the difference points the paper's way",
    "contradicted": "it rejects, and the difference points the other way",
    "consistent": "not rejected after Holm; the mean points the paper's way (nothing settled)",
    "not resolved": "not rejected after Holm; the mean points the other way (nothing settled)",
    "not testable here": "fewer than 2 paired seeds, or the table lacks the method or suite",
}
INTRO = (
    "Generated by `python -m analysis claims` from the claims in `analysis/claims.csv` and the tables named "
    "below; edit those, not this file. Each row is one comparison *Transformers are Meta-Reinforcement "
    "Learners* (Melo, ICML 2022) makes, read against our runs **at the scale they were run** (the env steps "
    "column; the paper's scale is in brackets after the claim). Differences are paired by seed (within a "
    "seed every method faces the same tasks and reset states), with a 95 % Student-t interval over the "
    "paired seeds and a two-sided paired t-test; the p-values are corrected with Holm's method within each "
    "family of comparisons (named after the p-values), and the label reads the corrected test:"
)
POWER_NOTE = (
    "A label at a small share of the paper's budget speaks to early learning only. `python -m analysis power "
    "--results TABLE` prints, per claim, the seeds a paired test needs for 80 % power at the observed effect."
)
PUBLISHED_NOTE = (
    "`analysis/published.csv` stores the Meta-World paper's Table 1 (MAML, RL², PEARL on ML10 and ML45, "
    "meta-train and meta-test success) with its provenance. They are not drawn on our figures and not read "
    "as claims here: they are Meta-World v2 numbers (ours are v3, DEVIATIONS.md) and their statistic is the "
    "average maximum success over training at 10 seeds and hundreds of millions of env steps, not the "
    "success at a grid point. The TrMRL paper reports curves only; no final numbers per environment could "
    "be read from it, so none are invented here."
)
README_BEGIN = (
    "<!-- claims of {table}: generated by `python -m analysis claims`; edit analysis/claims.csv -->"
)
README_END = "<!-- claims of {table}: end -->"
"""The markers around a table's generated claims block in a README (one block per table it shows)."""


def _number(value: float) -> str:
    if not np.isfinite(value):
        return "—"
    digits = 1 if abs(value) >= 10 else 2
    return f"{value:+.{digits}f}".replace("-", "−")


def _p(value: float) -> str:
    return "—" if not np.isfinite(value) else ("< 0.001" if value < 0.001 else f"{value:.3f}")


def comparison_text(row: pd.Series) -> str:
    """``TrMRL − PEARL``, ``TrMRL − its untrained agent``, ``TrMRL − 50`` (the claimed difference)."""
    if row["statistic"] == "gain":
        return f"{row['method']} at the end − {row['method']} at env_steps 0"
    return f"{row['method']} − {row['versus']}"


def evidence_text(row: pd.Series) -> str:
    """``+43.2 [−91.8, +178.2], n = 3`` (or what is missing)."""
    if row["n"] == 0:
        return "no runs in this table"
    if row["n"] == 1:
        return f"{_number(row['mean'])}, n = 1 (no interval)"
    return f"{_number(row['mean'])} [{_number(row['ci_low'])}, {_number(row['ci_high'])}], n = {row['n']}"


def _steps(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value / 1e6:g}M" if value >= 1e6 else f"{value / 1e3:g}k"


def claims_markdown(evaluation: pd.DataFrame) -> list[str]:
    """One table row per claim: the claim, what is compared where, our evidence, p raw and Holm, label."""
    header = [
        "id",
        "the paper's claim (its scale)",
        "suite, split, statistic",
        "difference",
        "env steps here",
        "mean [95 % CI], n",
        "p raw / Holm",
        "label",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in evaluation.iterrows():
        cells = [
            row["id"],
            f"{row['claim']} ({row['paper_scale']})",
            f"{row['suite']}, {row['split']}, {row['statistic']}",
            comparison_text(row),
            _steps(row["env_steps"]),
            evidence_text(row),
            f"{_p(row['p_raw'])} / {_p(row['p_holm'])} ({row['family']})",
            f"**{row['label']}**",
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return lines


def side_by_side_document(evaluations: dict[str, pd.DataFrame]) -> str:
    """The whole side-by-side document for several tables (name -> :func:`evaluate` output)."""
    lines = ["# The paper, side by side", "", *textwrap.wrap(INTRO, 110), ""]
    lines += [f"- **{name}**: {meaning}." for name, meaning in LABEL_MEANINGS.items()]
    lines += ["", *textwrap.wrap(POWER_NOTE, 110), ""]
    for name, evaluation in evaluations.items():
        counts = evaluation["label"].value_counts()
        summary = ", ".join(f"{counts.get(label_, 0)} {label_}" for label_ in LABELS if counts.get(label_, 0))
        lines += [
            f"## `{name}`",
            "",
            f"{len(evaluation)} claims: {summary}.",
            "",
            *claims_markdown(evaluation),
            "",
        ]
    return "\n".join(lines)


def readme_block(name: str, evaluation: pd.DataFrame) -> str:
    """The README's sentence list for one table: each testable claim with its evidence and label."""
    lines = [
        README_BEGIN.format(table=name),
        "",
        f"Against the paper's claims (`{name}`, paired by seed, Holm-corrected per family):",
        "",
    ]
    for _, row in evaluation[evaluation["n"] > 1].iterrows():
        lines.append(
            f"- {row['claim']}: {comparison_text(row)} on {row['suite']} {row['split']} "
            f"{evidence_text(row)}, Holm p {_p(row['p_holm'])}: **{row['label']}**."
        )
    return "\n".join([*lines, "", README_END.format(table=name)])


def has_readme_block(text: str, name: str) -> bool:
    """Whether ``text`` holds table ``name``'s generated claims block (both its markers, in order)."""
    start, end = text.find(README_BEGIN.format(table=name)), text.find(README_END.format(table=name))
    return 0 <= start < end


def replace_readme_block(text: str, name: str, block: str) -> str:
    """``text`` with table ``name``'s block (between its markers, markers included) replaced by ``block``."""
    begin, end_marker = README_BEGIN.format(table=name), README_END.format(table=name)
    if not has_readme_block(text, name):
        raise ValueError(f"the README has no generated claims block for {name} (its begin and end markers)")
    start, end = text.find(begin), text.find(end_marker)
    return text[:start] + block + text[end + len(end_marker) :]
