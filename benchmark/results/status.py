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
                "wall_h": round(float(manifest.get("wall_s") or 0) / 3600, 2),
            }
        )
    return pd.DataFrame(rows, columns=list(STATUS_COLUMNS))


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
