"""Faults injected into runs and merges: failing writes, damaged logs, foreign resume states, concurrent
merges, bad input. Nothing is lost, nothing damaged is read as good, and every failure is one line.

The runs are the random agent on point-nav's smoke profile (0.1 s each) with a resume point at every agent
iteration, so that a fault can land on every kind of write the harness makes.
"""

from __future__ import annotations

import builtins
import errno
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

import benchmark.files as files
from benchmark import registry
from benchmark.checkpoint import safe_load
from benchmark.cli import main
from benchmark.errors import BenchmarkError
from benchmark.executors.ray_cluster import check_reachable
from benchmark.request import resolve_run
from benchmark.results.schema import traces_path_for
from benchmark.results.store import runs_path_for
from benchmark.run import Run

RUN = ["run", "--method", "random", "--suite", "point-nav", "--no-progress", "--checkpoint-minutes", "0"]
RUN_ID = resolve_run("random", "point-nav", 0, "smoke")[0].run_id
LOGS = ("metrics.csv", "traces.csv", "progress.csv")


class FaultyDisk:
    """``open`` for :mod:`benchmark.files` (every write of a run and a merge goes through it) whose
    ``fail_at``-th opening for writing fails with ENOSPC; with ``persistent`` every later one fails too.
    An append that fails writes half its bytes first, as a disk that fills up mid-write does."""

    def __init__(self, fail_at: int | None = None, persistent: bool = False) -> None:
        self.fail_at, self.persistent, self.writes = fail_at, persistent, 0

    def open(self, file, mode="r", *args, **kwargs):
        if not any(flag in mode for flag in "wa+"):
            return builtins.open(file, mode, *args, **kwargs)
        self.writes += 1
        failing = self.fail_at is not None and (
            self.writes == self.fail_at or (self.persistent and self.writes > self.fail_at)
        )
        if not failing:
            return builtins.open(file, mode, *args, **kwargs)
        if "a" in mode:
            return _HalfWriter(builtins.open(file, mode, *args, **kwargs))
        raise OSError(errno.ENOSPC, "No space left on device", str(file))


class _HalfWriter:
    def __init__(self, file) -> None:
        self.file = file

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.file.close()

    def write(self, data: bytes) -> int:
        self.file.write(data[: len(data) // 2])
        self.file.flush()
        raise OSError(errno.ENOSPC, "No space left on device", self.file.name)

    def flush(self) -> None:
        self.file.flush()


def run_cli(args: list[str], capsys) -> tuple[int, list[str]]:
    capsys.readouterr()
    status = main(args)
    return status, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def clean_run(runs_dir: Path, capsys, seed: int = 0) -> Path:
    status, _ = run_cli([*RUN, "--runs-dir", str(runs_dir), "--seed", str(seed)], capsys)
    assert status == 0
    return runs_dir / resolve_run("random", "point-nav", seed, "smoke")[0].run_id


def log_bytes(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in ("metrics.csv", "traces.csv")}


def temporary_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def interrupted_run(runs_dir: Path, monkeypatch, after_iterations: int = 3) -> Path:
    """A run stopped by Ctrl-C after some iterations: it has evaluations and a resume point."""
    original = Run._log_progress
    calls = {"n": 0}

    def stop_later(self, steps, seconds):
        calls["n"] += 1
        if calls["n"] > after_iterations:
            raise KeyboardInterrupt
        original(self, steps, seconds)

    monkeypatch.setattr(Run, "_log_progress", stop_later)
    assert main([*RUN, "--runs-dir", str(runs_dir)]) == 130
    monkeypatch.setattr(Run, "_log_progress", original)
    run_dir = runs_dir / RUN_ID
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"
    assert (run_dir / "resume.pt").exists()
    return run_dir


def assert_set_aside_and_restarted(runs_dir: Path, lines: list[str], reference: dict[str, bytes]) -> Path:
    assert len(lines) == 1 and "cannot resume" in lines[0] and "starting again" in lines[0], lines
    (aside,) = (runs_dir / ".incomplete").iterdir()
    assert log_bytes(runs_dir / RUN_ID) == reference
    return aside


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, bytes]:
    """The logs of an undisturbed run."""
    runs_dir = tmp_path_factory.mktemp("reference")
    assert main([*RUN, "--runs-dir", str(runs_dir)]) == 0
    return log_bytes(runs_dir / RUN_ID)


# ---- writes that fail ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persistent", [False, True], ids=["one-write-fails", "disk-full-from-then-on"])
def test_every_write_of_a_run_can_fail_and_a_rerun_gives_the_undisturbed_results(
    tmp_path, monkeypatch, capsys, reference, persistent
):
    counter = FaultyDisk()
    monkeypatch.setattr(files, "open", counter.open, raising=False)
    clean_run(tmp_path / "count", capsys)
    assert counter.writes > 20  # manifests, checkpoints, resume points, metrics, traces, progress
    for fail_at in range(1, counter.writes + 1):
        runs_dir = tmp_path / f"fault{fail_at}"
        monkeypatch.setattr(files, "open", FaultyDisk(fail_at, persistent).open, raising=False)
        status, lines = run_cli([*RUN, "--runs-dir", str(runs_dir)], capsys)
        assert status == 1 and len(lines) == 1, (fail_at, lines)
        assert lines[0].startswith("benchmark: error: cannot write") and "No space left" in lines[0]
        assert temporary_files(runs_dir) == [], fail_at
        manifest_path = runs_dir / RUN_ID / "manifest.json"
        if manifest_path.exists():
            status_left = json.loads(manifest_path.read_text())["status"]
            # Even the failure can't be recorded on a disk that stays full; "running" resumes alike.
            assert status_left in (("failed", "running") if persistent else ("failed",)), fail_at
        monkeypatch.setattr(files, "open", builtins.open, raising=False)
        status, _ = run_cli([*RUN, "--runs-dir", str(runs_dir)], capsys)
        assert status == 0, fail_at
        assert log_bytes(runs_dir / RUN_ID) == reference, fail_at


def test_every_write_of_a_merge_can_fail_and_leaves_the_published_tables(tmp_path, monkeypatch, capsys):
    runs_dir, out = tmp_path / "runs", tmp_path / "tables" / "results.parquet"
    clean_run(runs_dir, capsys, seed=0)
    assert main(["results", "--runs-dir", str(runs_dir), "--out", str(out)]) == 0
    tables = (out, traces_path_for(out), runs_path_for(out))
    published = {path: path.read_bytes() for path in tables}
    clean_run(runs_dir, capsys, seed=1)
    counter = FaultyDisk()
    monkeypatch.setattr(files, "open", counter.open, raising=False)
    assert main(["results", "--runs-dir", str(runs_dir), "--out", str(tmp_path / "count.parquet")]) == 0
    assert counter.writes >= 3
    for fail_at in range(1, counter.writes + 1):
        monkeypatch.setattr(files, "open", FaultyDisk(fail_at).open, raising=False)
        status, lines = run_cli(["results", "--runs-dir", str(runs_dir), "--out", str(out)], capsys)
        assert status == 1 and len(lines) == 1 and "cannot write" in lines[0], (fail_at, lines)
        assert {path: path.read_bytes() for path in tables} == published, fail_at
        assert temporary_files(tmp_path) == [], fail_at
    monkeypatch.setattr(files, "open", builtins.open, raising=False)
    assert main(["results", "--runs-dir", str(runs_dir), "--out", str(out)]) == 0
    assert pd.read_parquet(out)["seed"].nunique() == 2


def test_a_new_run_in_a_folder_that_cannot_be_created_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    status, lines = run_cli([*RUN, "--runs-dir", str(blocker / "runs")], capsys)
    assert status in (1, 2) and len(lines) == 1 and lines[0].startswith("benchmark: error:")
    assert blocker.read_text() == "not a folder"


# ---- resume states and logs that can't be continued --------------------------------------------------


def test_a_resume_state_of_another_layout_sets_the_run_aside_before_touching_a_file(
    tmp_path, monkeypatch, capsys, reference
):
    run_dir = interrupted_run(tmp_path, monkeypatch)
    state = safe_load(run_dir / "resume.pt")
    state["agent"] = {"weights": torch.zeros(3, 3)}  # loads, but is not this agent's state
    torch.save(state, run_dir / "resume.pt")
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    status, lines = run_cli([*RUN, "--runs-dir", str(tmp_path)], capsys)
    assert status == 0
    aside = assert_set_aside_and_restarted(tmp_path, lines, reference)
    assert "does not fit the agent" in lines[0]
    assert {p.name: p.read_bytes() for p in aside.iterdir() if p.is_file()} == before  # untouched


def _cut_mid_number(data: bytes) -> bytes:
    return data[:-7]


def _edit_one_digit(data: bytes) -> bytes:
    lines = data.split(b"\r\n")
    row = bytearray(lines[1])
    i = next(i for i in range(len(row) - 1, -1, -1) if chr(row[i]).isdigit())
    row[i] = ord("7") if row[i] != ord("7") else ord("3")
    lines[1] = bytes(row)
    return b"\r\n".join(lines)


def _drop_a_row(data: bytes) -> bytes:
    lines = data.split(b"\r\n")
    return b"\r\n".join(lines[:1] + lines[2:])


def _garbage(data: bytes) -> bytes:
    return b"\x00\xffnot,a,csv\n" * 3


@pytest.mark.parametrize("damage", [_cut_mid_number, _edit_one_digit, _drop_a_row, _garbage])
@pytest.mark.parametrize("log", ["metrics.csv", "progress.csv"])
def test_a_damaged_log_of_an_unfinished_run_sets_it_aside(
    tmp_path, monkeypatch, capsys, reference, log, damage
):
    run_dir = interrupted_run(tmp_path, monkeypatch)
    path = run_dir / log
    path.write_bytes(damage(path.read_bytes()))
    status, lines = run_cli([*RUN, "--runs-dir", str(tmp_path)], capsys)
    assert status == 0
    assert_set_aside_and_restarted(tmp_path, lines, reference)
    assert log in lines[0]


def test_a_damaged_traces_header_sets_the_run_aside(tmp_path, monkeypatch, capsys, reference):
    run_dir = interrupted_run(tmp_path, monkeypatch)
    (run_dir / "traces.csv").write_bytes(b"garbage\r\n")
    status, lines = run_cli([*RUN, "--runs-dir", str(tmp_path)], capsys)
    assert status == 0 and "traces.csv" in lines[0]
    assert_set_aside_and_restarted(tmp_path, lines, reference)


def test_bytes_after_the_resume_point_are_dropped_and_the_run_resumes(
    tmp_path, monkeypatch, capsys, reference
):
    run_dir = interrupted_run(tmp_path, monkeypatch)
    for log in LOGS:
        with open(run_dir / log, "ab") as file:
            file.write(b"1,2,half a row wri")
    status, lines = run_cli([*RUN, "--runs-dir", str(tmp_path)], capsys)
    assert status == 0 and lines == [] and not (tmp_path / ".incomplete").exists()
    assert log_bytes(run_dir) == reference
    assert json.loads((run_dir / "manifest.json").read_text())["resumed"]


def test_a_resumed_run_records_its_total_wall_and_training_time(tmp_path, monkeypatch, capsys):
    """wall_s and train_s of a resumed run are totals over its sittings, in the manifest and runs.parquet:
    the first sitting's times are set to 1000 s of wall and 500 s of training, so what the second sitting
    adds (well under a minute) is told apart from what it carried."""
    run_dir = interrupted_run(tmp_path, monkeypatch)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["wall_s"] > 0  # the interrupted sitting recorded its own wall time
    state = safe_load(run_dir / "resume.pt")
    assert 0 < state["train_seconds"] < manifest["wall_s"]
    manifest["wall_s"] = 1000.0
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    state["train_seconds"] = 500.0
    torch.save(state, run_dir / "resume.pt")
    start = time.perf_counter()
    status, lines = run_cli([*RUN, "--runs-dir", str(tmp_path)], capsys)
    second = time.perf_counter() - start
    assert status == 0 and lines == []
    done = json.loads((run_dir / "manifest.json").read_text())
    assert done["status"] == "completed" and len(done["resumed"]) == 1
    assert 1000.0 < done["wall_s"] <= 1000.0 + second
    assert 500.0 < done["train_s"] <= 500.0 + second
    out = tmp_path / "results.parquet"
    assert main(["results", "--runs-dir", str(tmp_path), "--out", str(out)]) == 0
    (row,) = pd.read_parquet(runs_path_for(out)).to_dict("records")
    assert row["wall_s"] == done["wall_s"] and row["train_s"] == done["train_s"] and row["sittings"] == 2
    assert row["train_env_steps_per_s"] == pytest.approx(done["env_steps"] / done["train_s"], rel=1e-3)


def test_a_sitting_that_cannot_record_its_end_still_counts_up_to_its_last_evaluation(
    tmp_path, monkeypatch, capsys
):
    """As after SIGKILL or a full disk: the interrupted sitting cannot write its manifest, which keeps the
    wall time of its last evaluation; the resumed run's total starts from there."""
    import benchmark.run as run_module

    real_write = run_module.write_manifest

    def no_final_write(run_dir, manifest):
        if manifest.get("status") == "interrupted":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(run_dir, manifest)

    monkeypatch.setattr(run_module, "write_manifest", no_final_write)
    original = Run._log_progress
    calls = {"n": 0}

    def stop_later(self, steps, seconds):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        original(self, steps, seconds)

    monkeypatch.setattr(Run, "_log_progress", stop_later)
    assert main([*RUN, "--runs-dir", str(tmp_path)]) == 130
    monkeypatch.setattr(Run, "_log_progress", original)
    monkeypatch.setattr(run_module, "write_manifest", real_write)
    left = json.loads((tmp_path / RUN_ID / "manifest.json").read_text())
    assert left["status"] == "running" and left["evaluations"]
    carried = left["wall_s"]
    assert carried > 0
    status, _ = run_cli([*RUN, "--runs-dir", str(tmp_path)], capsys)
    assert status == 0
    done = json.loads((tmp_path / RUN_ID / "manifest.json").read_text())
    assert done["status"] == "completed" and done["wall_s"] > carried


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", 1),
        ("pending", "x"),
        ("pending", [123]),
        ("train_seconds", math.nan),
        ("evaluations", -1),
        ("evaluations", 99),
        ("env_steps", "a"),
        ("progress_rows", None),
        ("logs", {}),
        ("logs", {"metrics.csv": {"bytes": -1, "sha256": "0" * 64}}),
        ("rngs", None),
        ("context", [1, 2]),
        ("run_id", "another"),
        ("device", "tpu"),
    ],
)
def test_a_bad_field_in_the_resume_state_sets_the_run_aside(
    tmp_path, monkeypatch, capsys, reference, field, value
):
    run_dir = interrupted_run(tmp_path, monkeypatch)
    state = safe_load(run_dir / "resume.pt")
    state[field] = value
    torch.save(state, run_dir / "resume.pt")
    status, lines = run_cli([*RUN, "--runs-dir", str(tmp_path)], capsys)
    assert status == 0
    assert_set_aside_and_restarted(tmp_path, lines, reference)


def test_a_resume_point_of_another_device_type_is_refused_in_one_line_and_kept(
    tmp_path, monkeypatch, capsys, reference
):
    """A point written on a GPU continues only on a GPU (another random stream, other rounding): on the CPU
    the run stops with one line naming the device to use, and its folder stays as it is."""
    run_dir = interrupted_run(tmp_path, monkeypatch)
    state = safe_load(run_dir / "resume.pt")
    assert state["device"] == "cpu"
    state["device"] = "cuda"
    torch.save(state, run_dir / "resume.pt")
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    status, lines = run_cli([*RUN, "--runs-dir", str(tmp_path), "--device", "cpu"], capsys)
    assert status == 2 and len(lines) == 1 and "resume it with --device cuda" in lines[0], lines
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before
    assert not (tmp_path / ".incomplete").exists()
    del state["device"]  # a point written before the device was recorded: not checked
    torch.save(state, run_dir / "resume.pt")
    status, lines = run_cli([*RUN, "--runs-dir", str(tmp_path)], capsys)
    assert status == 0 and lines == [] and log_bytes(run_dir) == reference


@pytest.mark.parametrize("content", [b"{not json", b"[]", b""])
def test_a_corrupt_manifest_of_an_unfinished_run_sets_it_aside(
    tmp_path, monkeypatch, capsys, reference, content
):
    run_dir = interrupted_run(tmp_path, monkeypatch)
    (run_dir / "manifest.json").write_bytes(content)
    status, lines = run_cli([*RUN, "--runs-dir", str(tmp_path)], capsys)
    assert status == 0
    assert_set_aside_and_restarted(tmp_path, lines, reference)


# ---- merges read what the runs wrote, by content --------------------------------------------------------


def _drop_trace_rows(data: bytes) -> bytes:
    lines = data.split(b"\r\n")
    return b"\r\n".join(lines[:1] + lines[51:])


@pytest.mark.parametrize(
    ("log", "damage"),
    [
        ("metrics.csv", _cut_mid_number),
        ("metrics.csv", _edit_one_digit),
        ("metrics.csv", _drop_a_row),
        ("traces.csv", _drop_trace_rows),
        ("traces.csv", _edit_one_digit),
    ],
)
def test_a_merge_refuses_a_cut_or_edited_log(tmp_path, capsys, log, damage):
    run_dir = clean_run(tmp_path / "runs", capsys)
    path = run_dir / log
    path.write_bytes(damage(path.read_bytes()))
    out = tmp_path / "results.parquet"
    status, lines = run_cli(["results", "--runs-dir", str(tmp_path / "runs"), "--out", str(out)], capsys)
    assert status == 2 and len(lines) == 1 and log in lines[0], lines
    assert not out.exists()


def test_runs_without_digests_are_still_checked_row_by_row(tmp_path, capsys):
    """Runs made before the harness recorded digests: metrics and traces rows are counted per point."""
    run_dir = clean_run(tmp_path / "runs", capsys)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for evaluation in manifest["evaluations"]:
        evaluation.pop("metrics"), evaluation.pop("traces")
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "results.parquet"
    assert main(["results", "--runs-dir", str(tmp_path / "runs"), "--out", str(out)]) == 0
    path = run_dir / "traces.csv"
    path.write_bytes(_drop_trace_rows(path.read_bytes()))
    status, lines = run_cli(["results", "--runs-dir", str(tmp_path / "runs"), "--out", str(out)], capsys)
    assert status == 2 and "traces.csv" in lines[0] and "the manifest recorded" in lines[0]


MERGE_LOOP = """
import sys
from benchmark.cli import main
for _ in range(4):
    assert main(["results", "--runs-dir", sys.argv[1], "--out", sys.argv[2]]) == 0
"""


def test_two_merges_onto_one_output_publish_one_set_of_tables(tmp_path, capsys):
    clean_run(tmp_path / "a", capsys, seed=0)
    clean_run(tmp_path / "b", capsys, seed=1)
    out = tmp_path / "tables" / "results.parquet"
    merges = [
        subprocess.Popen([sys.executable, "-c", MERGE_LOOP, str(tmp_path / name), str(out)])
        for name in ("a", "b")
    ]
    assert [merge.wait(timeout=300) for merge in merges] == [0, 0]
    run_ids = [
        set(pd.read_parquet(path)["run_id"]) for path in (out, traces_path_for(out), runs_path_for(out))
    ]
    assert run_ids[0] == run_ids[1] == run_ids[2] and len(run_ids[0]) == 1
    assert temporary_files(tmp_path) == []


# ---- bad input: refused before the run folder exists -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "maml", "--suite", "ml10", "--set", "meta_batch_size=15"], "multiple of its 10"),
        (["--method", "pearl", "--suite", "ml1-reach", "--set", "num_train_tasks=51"], "exceeds the 50"),
        (["--method", "trmrl", "--suite", "point-nav", "--set", "n_heads=3"], "multiple of n_heads"),
        (["--method", "maml", "--suite", "point-nav", "--set", "hidden_sizes=5"], "JSON list"),
        (["--method", "broken", "--suite", "point-nav"], "cannot import"),
        (["--method", "random", "--suite", "point-nav", "--checkpoint-minutes", "nan"], "finite"),
    ],
)
def test_bad_input_is_refused_before_anything_is_created(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setitem(registry.METHODS, "broken", registry.MethodEntry("no.such.module:Agent", "broken"))
    runs_dir = tmp_path / "runs"
    status, lines = run_cli(["run", *args, "--runs-dir", str(runs_dir), "--no-progress"], capsys)
    assert status == 2 and len(lines) == 1 and message in lines[0], lines
    assert not runs_dir.exists()


def test_a_huge_seed_count_is_refused_not_allocated(capsys):
    status, lines = run_cli(["sweep", "--seeds", str(10**12), "--dry-run"], capsys)
    assert status == 2 and len(lines) == 1 and "at most" in lines[0]


def test_ctrl_c_on_run_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("benchmark.run.execute_run", interrupted)
    status, lines = run_cli([*RUN, "--runs-dir", str(tmp_path)], capsys)
    assert status == 130 and len(lines) == 1 and "interrupted" in lines[0]


def test_an_unreachable_ray_head_is_refused_quickly():
    with pytest.raises(BenchmarkError, match="cannot reach a Ray head at 127.0.0.1:1"):
        check_reachable("127.0.0.1:1", timeout_s=2.0)
    with pytest.raises(BenchmarkError, match="not HOST:PORT"):
        check_reachable("no-port-here")
    check_reachable("auto")  # left to Ray's own discovery


def test_a_configuration_too_large_for_memory_is_one_line_and_a_defect_keeps_its_traceback(
    tmp_path, monkeypatch, capsys
):
    def too_large(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1e14 bytes")

    monkeypatch.setattr("benchmark.run.execute_run", too_large)
    status, lines = run_cli([*RUN, "--runs-dir", str(tmp_path)], capsys)
    assert status == 1 and len(lines) == 1 and "out of memory" in lines[0]

    def defect(*args, **kwargs):
        raise RuntimeError("shape mismatch in my agent")

    monkeypatch.setattr("benchmark.run.execute_run", defect)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        main([*RUN, "--runs-dir", str(tmp_path)])
