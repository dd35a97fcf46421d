"""Where a results table's runs come from: code version and device.

``benchmark results`` writes them beside the merged table (``results.runs.parquet`` next to
``results.parquet``: ``run_id, commit, dirty, device, threads, ...``); without that table they are read from
the runs' own manifests (``results/runs/<run_id>/manifest.json``: ``git.commit``, ``git.dirty``,
``runtime.device``). A table that mixes code versions, dirty trees or devices is flagged in the report: its
numbers may not be comparable. Without manifests the report says that the code version and device are unknown.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd


def read_runs_table(path: Path | None, run_ids: list[str]) -> pd.DataFrame | None:
    """The provenance table ``benchmark results`` wrote beside a results table, restricted to ``run_ids``."""
    if path is None or not path.exists():
        return None
    try:
        runs = pd.read_parquet(path)
    except Exception:  # an unreadable provenance table is reported as unknown provenance, not a crash
        return None
    runs = runs[runs["run_id"].astype(str).isin(run_ids)]
    out = pd.DataFrame(
        {
            "run_id": runs["run_id"].astype(str),
            "commit": runs["commit"].fillna("unknown").astype(str),
            "dirty": runs["dirty"].astype(object).where(runs["dirty"].notna(), None),
            "device": runs["device"].fillna("not recorded").astype(str),
        }
    )
    return out.reset_index(drop=True)


def read_manifests(run_ids: list[str], runs_dir: Path | None) -> pd.DataFrame:
    """One row per run with a readable manifest: ``run_id, commit, dirty, device``."""
    rows = []
    if runs_dir is not None and runs_dir.is_dir():
        for run_id in run_ids:
            path = runs_dir / run_id / "manifest.json"
            try:
                manifest = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            git = manifest.get("git") or {}
            runtime = manifest.get("runtime") or {}
            device = runtime.get("device") if isinstance(runtime, dict) else None
            rows.append(
                {
                    "run_id": run_id,
                    "commit": git.get("commit") or "unknown",
                    "dirty": git.get("dirty"),
                    "device": device or "not recorded",
                }
            )
    return pd.DataFrame(rows, columns=["run_id", "commit", "dirty", "device"])


def flags(run_ids: list[str], runs_dir: Path | None, runs_table: Path | None = None) -> list[str]:
    """Sentences for the report: mixed code versions, dirty trees, mixed devices, or unknown provenance.

    Reads ``runs_table`` (the provenance table beside the results) when it exists, else the manifests.
    """
    table = read_runs_table(runs_table, run_ids)
    manifests = table if table is not None and not table.empty else read_manifests(run_ids, runs_dir)
    if manifests.empty:
        where = f" (looked in {runs_dir})" if runs_dir is not None else ""
        return [f"Code version and device are unknown: no run manifests were found beside the table{where}."]
    out = []
    missing = len(run_ids) - len(manifests)
    if missing:
        out.append(
            f"{missing} of {len(run_ids)} runs have no readable manifest: their code version is unknown."
        )
    commits = Counter(manifests["commit"])
    if len(commits) > 1:
        parts = ", ".join(f"{c[:10]} ({n} runs)" for c, n in sorted(commits.items()))
        out.append(f"**Mixed code versions**: the runs come from {len(commits)} commits: {parts}.")
    dirty = int((manifests["dirty"] == True).sum())  # noqa: E712  (None: unknown)
    if dirty:
        out.append(f"{dirty} run(s) ran from a working tree with uncommitted changes (git dirty flag).")
    devices = Counter(manifests["device"])
    if len(devices) > 1:
        parts = ", ".join(f"{d} ({n} runs)" for d, n in sorted(devices.items()))
        out.append(f"**Mixed devices**: {parts}.")
    if not out:
        commit = next(iter(commits))
        out.append(f"All {len(manifests)} runs: commit {commit[:10]}, device {next(iter(devices))}.")
    return out
