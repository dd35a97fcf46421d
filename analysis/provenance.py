"""Where a results table's runs come from: code version and device, read from the runs' manifests.

The merged table does not carry them; each run's ``manifest.json`` (``results/runs/<run_id>/``) does
(``git.commit``, ``git.dirty``, ``runtime.device``). A table that mixes code versions, dirty trees or devices
is flagged in the report: its numbers may not be comparable. Without manifests the report says that the code
version and device are unknown.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd


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


def flags(run_ids: list[str], runs_dir: Path | None) -> list[str]:
    """Sentences for the report: mixed code versions, dirty trees, mixed devices, or unknown provenance."""
    manifests = read_manifests(run_ids, runs_dir)
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
