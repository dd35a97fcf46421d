"""``make bench``: the quick run writes every section; the cost model and FLOP count are right.

No figure is asserted: throughput on a shared machine is not a test.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from agents.trmrl import bench as trmrl_bench
from agents.trmrl.config import TrMRLConfig
from benchmark import bench, cost


def test_quick_bench_writes_every_section(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["--quick", "--suites", "point-nav", "--methods", "random", "trmrl", "--json", str(out)]
    assert bench.main(argv) == 0
    assert trmrl_bench.main(["--quick", "--json", str(out)]) == 0  # adds its sections to the same file
    figures = json.loads(out.read_text())
    assert {"machine", "compute", "suites", "check", "update", "acting", "e2e", "seeds", "cost"} <= set(
        figures
    )
    assert figures["compute"]["forward"]["gflops"] > 0 and figures["suites"]["point-nav"]["reset_s"] > 0
    check = figures["check"]["random/smoke/point-nav"]
    assert check["iterations"] >= 1 and check["estimated_train_s"] > 0 and check["eval_s"] > 0
    assert "estimated_s" in figures["e2e"]["trmrl"]
    assert len(figures["machine"]["loadavg_start"]) == 3 and figures["machine"]["cpu_count"] >= 1
    assert figures["suites"]["point-nav"]["raw"] > 0 and figures["update"]["ratio"] > 0
    assert (
        figures["suites"]["point-nav"]["lockstep"] > 0
        and figures["suites"]["point-nav"]["ratio_lockstep"] > 0
    )
    update = figures["update"]
    assert update["attention_kernel_s"] > 0 and update["attention_matmuls_s"] > 0
    assert 0 <= update["attention_excess_share"] < 1
    assert figures["e2e"]["trmrl"]["env_steps"] > 0 and figures["e2e"]["trmrl"]["peak_rss_mb"] > 0
    assert figures["cost"]["cpu_hours"] > figures["cost"]["quick_cpu_hours"] > 0
    assert "TrMRL update" in capsys.readouterr().out


def test_the_harness_imports_no_method_and_its_cost_model_no_torch():
    """benchmark/ never imports agents/ or baselines/ (the registry loads them by name, lazily)."""
    import ast
    from pathlib import Path

    root = Path(bench.__file__).parent
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("agents", "baselines")), (path, node.module)
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith(("agents", "baselines")) for a in node.names), path
    cost_imports = [
        n for n in ast.walk(ast.parse(Path(cost.__file__).read_text())) if isinstance(n, ast.Import)
    ]
    assert not any(a.name == "torch" for n in cost_imports for a in n.names)


def test_the_layer_fit_recovers_its_coefficients():
    """make bench's compute section: seconds made from known coefficients are fitted back."""
    rows, widths = (16, 256, 4096), (16, 64, 512)
    truth = {"layer_s": 1e-5, "element_s": 2e-10, "mac_s": 1e-11, "param_s": 3e-10}

    def seconds(m: int, w: int) -> float:
        return (
            truth["layer_s"]
            + truth["element_s"] * m * w
            + truth["mac_s"] * m * w * w
            + truth["param_s"] * w * w
        )

    fit = bench.fit_layer_seconds(rows, widths, [[seconds(m, w) for w in widths] for m in rows], 2)
    for key, value in truth.items():
        assert abs(fit[key] / value - 1) < 1e-6, key
    assert abs(fit["gflops"] - 200.0) < 1e-6 and fit["error"] < 1e-9


def test_the_check_section_has_a_default_entry_per_estimated_method():
    entries = [e.split("/") for e in bench.CHECK_ENTRIES]
    assert {m for m, _, _ in entries} >= {"trmrl", "pearl", "maml", "rl2"}
    assert all(p in ("quick", "paper") and s in cost.SUITES for _, p, s in entries)
    assert "trmrl-trial" not in bench.E2E_METHODS and {"trmrl", "pearl", "maml"} <= set(bench.E2E_METHODS)


def test_flop_count_matches_the_networks_linear_layers():
    """The counted GEMMs of a forward equal a hand count of its multiply-adds (last-layer shortcut)."""
    config = dataclasses.replace(TrMRLConfig(), d_model=8, n_heads=2, dim_ff=16, n_layers=2, wm_size=3)
    gemms = trmrl_bench.trmrl_forward_gemms(config, token_dim=5, act_dim=2, batch=1)
    L, d, ff, dh = 3, 8, 16, 4
    per_inner = L * d * 3 * d + 2 * 2 * L * L * dh + L * d * d + 2 * L * d * ff
    per_last = d * d + L * d * 2 * d + 2 * 2 * L * dh + d * d + 2 * d * ff
    sizes = (d, *config.policy_hidden_sizes, 2)
    head = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    assert trmrl_bench.gemm_flops(gemms) == 2 * (L * 5 * d + per_inner + per_last + head)
    assert torch.get_num_threads() >= 1


def test_pearl_e2e_reports_its_steady_rate_apart_from_the_initial_pool():
    figures = bench.e2e_child("pearl", "point-nav", "smoke", budget=1)
    assert figures["iterations"] == 1 and figures["steady_steps_per_s"] > 0
    assert figures["collect_seconds"] > 0 and figures["train_seconds"] > 0


def test_a_method_bench_adds_its_section_and_keeps_the_others(tmp_path):
    """The method micro-benchmarks merge into the bench JSON the cost model reads; figures that cannot be
    written leave the earlier file whole, with no temporary beside it."""
    out = tmp_path / "bench.json"
    bench.write_bench_json(out, {"machine": {"cpu": "x"}, "pearl": {"old": 1}})
    args, repeats = bench.method_bench_arguments("b", "d", "w", ["--json", str(out)])
    assert repeats == 3
    bench.add_to_bench_json({"pearl": {"new": 2}}, args)
    assert json.loads(out.read_text()) == {"machine": {"cpu": "x"}, "pearl": {"new": 2}}
    before = out.read_bytes()
    with pytest.raises(TypeError):
        bench.write_bench_json(out, {"bad": object()})  # not JSON: fails before anything is replaced
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["bench.json"]
