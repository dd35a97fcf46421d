"""What a runs folder holds: each run's method, suite, seed, profile, status and progress (``benchmark
status``), read from the manifests alone (no simulator, no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.errors import ResultsSchemaError
from benchmark.results.store import MANIFEST_FILE, RESUME_FILE, read_manifest

STATUS_COLUMNS = (
    "run_id",
    "method",
    "suite",
    "seed",
    "profile",
    "status",
    "env_steps",
    "budget",
    "progress",
    "evaluations",
    "resumable",
    "wall_h",
)


def status_table(runs_dir: Path, profile: str | None = None) -> pd.DataFrame:
    """One row per run folder under ``runs_dir`` (a folder with an unreadable manifest says so in
    ``status``); ``profile`` keeps that profile's runs. Runs set aside to ``.incomplete/`` are not listed."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise ResultsSchemaError(f"{runs_dir}: no such runs folder")
    rows: list[dict[str, Any]] = []
    for run_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            manifest = read_manifest(run_dir)
        except ResultsSchemaError:
            if profile is not None:  # its profile is unknown
                continue
            status = "no manifest" if not (run_dir / MANIFEST_FILE).exists() else "unreadable manifest"
            rows.append({"run_id": run_dir.name, "status": status})
            continue
        spec = manifest.get("spec") or {}
        if profile is not None and spec.get("profile") != profile:
            continue
        budget = spec.get("budget_env_steps")
        env_steps = manifest.get("env_steps") or 0
        rows.append(
            {
                "run_id": manifest.get("run_id", run_dir.name),
                "method": spec.get("method"),
                "suite": spec.get("suite"),
                "seed": spec.get("seed"),
                "profile": spec.get("profile"),
                "status": manifest.get("status"),
                "env_steps": env_steps,
                "budget": budget,
                "progress": f"{100 * min(env_steps / budget, 1):.0f}%" if budget else "",
                "evaluations": f"{len(manifest.get('evaluations') or [])}/{len(spec.get('eval_grid') or [])}",
                "resumable": (run_dir / RESUME_FILE).exists(),
                "wall_h": round(float(manifest.get("wall_s") or 0) / 3600, 3),
            }
        )
    return pd.DataFrame(rows, columns=list(STATUS_COLUMNS))


def estimated_hours(run_dir: Path, rates: Any) -> float | None:
    """The cost model's one-core hours, at ``rates`` (:class:`benchmark.cost.MachineRates`), for the run a
    folder's manifest describes (None without a spec)."""
    from benchmark.cost import PricedRun, price
    from benchmark.protocol import EvalSettings

    spec = read_manifest(run_dir).get("spec")
    if not isinstance(spec, dict):
        return None
    run = PricedRun(
        spec["method"],
        spec["suite"],
        int(spec["budget_env_steps"]),
        tuple(spec["eval_grid"]),
        EvalSettings.from_record(spec["eval"]),
        spec["agent_config"],
    )
    return price(run, rates).seconds / 3600


def priced(table: pd.DataFrame, runs_dir: Path) -> pd.DataFrame:
    """``table`` with ``estimated_h``: what the cost model (``make eta``) says each run costs on one core, to
    set beside ``wall_h`` (what it took here)."""
    from benchmark.cost import MachineRates

    runs_dir, rates = Path(runs_dir), MachineRates.load()
    estimates = []
    for run_id in table["run_id"]:
        try:
            estimates.append(estimated_hours(runs_dir / run_id, rates))
        except (ResultsSchemaError, KeyError, TypeError, ValueError):
            estimates.append(None)
    return table.assign(estimated_h=[None if e is None else round(e, 3) for e in estimates])


def cost_check(table: pd.DataFrame) -> str:
    """One line: the completed runs' wall hours against the cost model's estimate for them."""
    done = table[(table["status"] == "completed") & table["estimated_h"].notna()]
    if done.empty:
        return "no completed run to set beside the cost model"
    wall = float(done["wall_h"].sum())
    estimate = float(done["estimated_h"].sum())
    ratio = f" (estimate / measured = {estimate / wall:.2f})" if wall > 0 else ""
    return (
        f"{len(done)} completed runs: {wall:.3f} h of wall time summed over runs, the cost model says "
        f"{estimate:.3f} CPU-hours{ratio}"
    )


def set_aside_count(runs_dir: Path) -> int:
    """How many earlier folders were moved to ``.incomplete/`` (kept, never deleted)."""
    graveyard = Path(runs_dir) / ".incomplete"
    return sum(1 for _ in graveyard.iterdir()) if graveyard.is_dir() else 0


def format_status(table: pd.DataFrame, runs_dir: Path) -> str:
    """The table as text, with a count per status and of set-aside folders."""
    if table.empty:
        return f"{runs_dir}: no runs"
    lines = [table.drop(columns=["run_id"]).astype(object).fillna("").to_string(index=False), ""]
    counts = table["status"].value_counts()
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    aside = set_aside_count(runs_dir)
    lines.append(
        f"{len(table)} runs in {runs_dir}: {summary}"
        + (f"; {aside} set aside in .incomplete/" if aside else "")
    )
    return "\n".join(lines)
