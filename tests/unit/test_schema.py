"""The tidy results schema: round trips, validation errors, the append-only metrics file and the merge."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from benchmark.errors import ResultsSchemaError
from benchmark.results.schema import COLUMNS, read_table, sort_rows, validate, write_table
from benchmark.results.store import MetricsWriter, merge_runs, read_run_metrics, write_manifest


def rows(run_id="r1", n=3, seed=0):
    return [
        {
            "run_id": run_id,
            "method": "random",
            "suite": "point-nav",
            "split": "meta_test",
            "seed": seed,
            "env_steps": 100 * i,
            "trial": i,
            "task_id": i,
            "task_name": None,
            "episode": 1,
            "task_param": 0.5 * i,
            "metric": "return",
            "value": -float(i),
        }
        for i in range(n)
    ] + [
        {
            "run_id": run_id,
            "method": "random",
            "suite": "ml1-push",
            "split": "meta_train",
            "seed": seed,
            "env_steps": 0,
            "trial": None,
            "task_id": None,
            "task_name": "push-v3",
            "episode": None,
            "task_param": None,
            "metric": "success",
            "value": 1.0,
        }
    ]


def test_validate_gives_canonical_dtypes_and_order():
    df = validate(pd.DataFrame(rows())[list(reversed(COLUMNS))])
    assert list(df.columns) == list(COLUMNS)
    assert {c: str(t) for c, t in df.dtypes.items()} == COLUMNS
    assert df["task_id"].isna().sum() == 1


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip_preserves_values_and_dtypes(tmp_path, suffix):
    df = sort_rows(validate(pd.DataFrame(rows())))
    path = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        write_table(df, path)
    else:
        df.to_csv(path, index=False)
    back = read_table(path)
    pd.testing.assert_frame_equal(back, df)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.drop(columns=["metric"]), "missing column"),
        (lambda d: d.assign(extra=1), "unexpected column"),
        (lambda d: d.assign(metric="reward"), "unknown metric"),
        (lambda d: d.assign(split="train"), "unknown split"),
        (lambda d: d.assign(seed="zero"), "'seed' cannot be read"),
        (lambda d: d.assign(env_steps=1.5), "'env_steps' cannot be read"),
        (lambda d: d.assign(value=np.nan), "missing values"),
        (lambda d: d.assign(value=np.inf), "NaN or infinite"),
        (lambda d: d.assign(run_id=None), "missing values"),
        (lambda d: d.assign(episode=0), "1-based"),
        (lambda d: d.assign(env_steps=-1), "negative"),
    ],
)
def test_malformed_tables_get_a_one_line_error(mutate, message):
    with pytest.raises(ResultsSchemaError, match=message) as info:
        validate(mutate(pd.DataFrame(rows())), source="t.parquet")
    assert "\n" not in str(info.value) and str(info.value).startswith("t.parquet")


def test_corrupt_or_missing_file_is_a_schema_error(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(ResultsSchemaError, match="not a readable results file"):
        read_table(bad)
    with pytest.raises(ResultsSchemaError, match="no such results file"):
        read_table(tmp_path / "absent.parquet")


def test_metrics_writer_appends_and_refuses_invalid_rows(tmp_path):
    path = tmp_path / "metrics.csv"
    writer = MetricsWriter(path)
    assert writer.append(rows(n=2)) == 3
    assert writer.append(rows(n=1)) == 2
    with pytest.raises(ResultsSchemaError):
        writer.append([{**rows()[0], "metric": "nonsense"}])
    assert len(read_run_metrics(tmp_path)) == 5  # the refused row was not written
    assert path.read_text().count("run_id") == 1  # one header, never rewritten


def make_run(runs_dir, run_id, status="completed", seed=0):
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    MetricsWriter(run_dir / "metrics.csv").append(rows(run_id, seed=seed))
    evaluations = [{"grid_env_steps": 0, "rows": 2}, {"grid_env_steps": 100, "rows": 1}]
    evaluations.append({"grid_env_steps": 200, "rows": 1})
    write_manifest(run_dir, {"run_id": run_id, "status": status, "evaluations": evaluations})
    return run_dir


def test_merge_takes_completed_runs_and_loads_in_pandas(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "a", seed=0)
    make_run(runs, "b", seed=1)
    make_run(runs, "c", status="running", seed=2)
    out, n_runs, n_rows = merge_runs(runs, tmp_path / "results.parquet")
    assert (n_runs, n_rows) == (2, 8)
    table = pd.read_parquet(out)
    assert sorted(table["run_id"].unique()) == ["a", "b"]
    _, n_runs, _ = merge_runs(runs, tmp_path / "all.parquet", include_incomplete=True)
    assert n_runs == 3


def test_merge_refuses_a_corrupt_run_and_keeps_the_old_table(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "a")
    out, _, _ = merge_runs(runs, tmp_path / "results.parquet")
    before = out.read_bytes()
    broken = make_run(runs, "b")
    (broken / "metrics.csv").write_text("run_id,method\nx,y\n")
    with pytest.raises(ResultsSchemaError, match="missing column"):
        merge_runs(runs, out)
    assert out.read_bytes() == before
    (broken / "manifest.json").write_text("{not json")
    with pytest.raises(ResultsSchemaError, match="corrupt manifest"):
        merge_runs(runs, out)
    assert out.read_bytes() == before  # a corrupt manifest, too, leaves the old table as it was
    assert json.loads((runs / "a" / "manifest.json").read_text())["status"] == "completed"


def test_tables_from_before_trial_and_task_name_read_with_null_columns(tmp_path):
    old = pd.DataFrame(rows()).drop(columns=["trial", "task_name"])
    path = tmp_path / "old.parquet"
    old.to_parquet(path)
    table = read_table(path)
    assert list(table.columns) == list(COLUMNS)
    assert table["trial"].isna().all() and table["task_name"].isna().all()
    with pytest.raises(ResultsSchemaError, match="missing column"):
        validate(old)  # writing still requires every column


def trace_rows(run_id="r1", steps=4):
    return pd.DataFrame(
        {
            "run_id": run_id,
            "method": "trmrl",
            "suite": "halfcheetah-vel",
            "split": "meta_test",
            "seed": 0,
            "env_steps": 1000,
            "trial": 0,
            "task_id": 3,
            "task_name": None,
            "task_param": 1.5,
            "episode": [1 + t // 2 for t in range(steps)],
            "step": list(range(steps)),
            "reward": [-1.0 * t for t in range(steps)],
        }
    )


def test_traces_round_trip_and_reject_malformed_rows(tmp_path):
    from benchmark.results.schema import TRACE_COLUMNS, read_traces, write_traces

    path = write_traces(trace_rows(), tmp_path / "traces.parquet")
    back = read_traces(path)
    assert {c: str(t) for c, t in back.dtypes.items()} == TRACE_COLUMNS
    assert back["reward"].tolist() == [0.0, -1.0, -2.0, -3.0]
    bad = trace_rows()
    bad.loc[1, "reward"] = float("inf")
    with pytest.raises(ResultsSchemaError, match="NaN or infinite"):
        write_traces(bad, tmp_path / "bad.parquet")
    bad = trace_rows()
    bad.loc[0, "episode"] = 0
    with pytest.raises(ResultsSchemaError, match="1-based"):
        write_traces(bad, tmp_path / "bad.parquet")
    assert not (tmp_path / "bad.parquet").exists() and not list(tmp_path.glob("*.tmp"))


def test_merge_names_a_truncated_or_edited_metrics_file(tmp_path):
    """Rows are checked against the manifest's evaluations, never merged in silence."""
    runs = tmp_path / "runs"
    make_run(runs, "a")
    out, _, _ = merge_runs(runs, tmp_path / "results.parquet")
    before = out.read_bytes()
    broken = make_run(runs, "b")
    lines = (broken / "metrics.csv").read_text().splitlines(keepends=True)
    (broken / "metrics.csv").write_text("".join(lines[:-1]))  # the last evaluation lost its row
    with pytest.raises(
        ResultsSchemaError, match="b/metrics.csv: 1 rows at env_steps 0, the manifest recorded 2"
    ):
        merge_runs(runs, out)
    (broken / "metrics.csv").write_text("".join(lines[:3]))  # evaluations lost
    with pytest.raises(ResultsSchemaError, match=r"evaluation points \[0, 100\] differ"):
        merge_runs(runs, out)
    assert out.read_bytes() == before


def test_merging_zero_runs_keeps_the_existing_table(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "a", status="running")
    out = tmp_path / "results.parquet"
    write_table(pd.DataFrame(rows()), out)
    before = out.read_bytes()
    with pytest.raises(ResultsSchemaError, match="no completed runs"):
        merge_runs(runs, out)
    assert out.read_bytes() == before


def test_an_unwritable_output_is_one_line_and_leaves_no_temporary_file(tmp_path):
    from benchmark.cli import main

    runs = tmp_path / "runs"
    make_run(runs, "a")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(ResultsSchemaError, match="not writable"):
            merge_runs(runs, locked / "results.parquet")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)
    assert main(["results", "--runs-dir", str(runs), "--out", str(tmp_path)]) == 2  # a folder, not a file
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ResultsSchemaError, match="cannot create its folder"):
        merge_runs(runs, blocker / "sub" / "results.parquet")
    assert not list(tmp_path.glob("**/*.tmp"))


def test_merge_writes_run_provenance_and_flags_mixed_devices(tmp_path):
    from benchmark.results.store import mixed_provenance, runs_path_for

    runs = tmp_path / "runs"
    for name, device in (("a", "cpu"), ("b", "cuda")):
        run_dir = make_run(runs, name)
        manifest = json.loads((run_dir / "manifest.json").read_text())
        manifest.update(runtime={"device": device, "threads": 1}, git={"commit": "abc", "dirty": False})
        write_manifest(run_dir, manifest)
    out, _, _ = merge_runs(runs, tmp_path / "results.parquet")
    provenance = pd.read_parquet(runs_path_for(out))
    assert sorted(provenance["run_id"]) == ["a", "b"]
    assert mixed_provenance(provenance) == ["mixes devices: cpu, cuda"]
    assert list(provenance["precision"]) == ["fp32", "fp32"]


def test_run_provenance_records_the_precision_and_flags_a_mix(tmp_path):
    from benchmark.results.store import mixed_provenance, runs_path_for

    runs = tmp_path / "runs"
    for name, spec in (("a", {}), ("b", {"precision": "bf16"})):  # fp32 is not written into the spec
        run_dir = make_run(runs, name)
        manifest = json.loads((run_dir / "manifest.json").read_text())
        manifest.update(spec=spec)
        write_manifest(run_dir, manifest)
    provenance = pd.read_parquet(runs_path_for(merge_runs(runs, tmp_path / "results.parquet")[0]))
    assert dict(zip(provenance["run_id"], provenance["precision"], strict=True)) == {"a": "fp32", "b": "bf16"}
    assert mixed_provenance(provenance) == ["mixes precisions: bf16, fp32"]
    # a runs table written before the column existed holds fp32 runs
    assert mixed_provenance(provenance[provenance.run_id == "a"].drop(columns="precision")) == []
