"""PEARL's gradient-step micro-benchmark (``make bench``): the quick run writes its section; the FLOP count
follows the networks' widths. No figure is asserted: throughput on a shared machine is not a test."""

from __future__ import annotations

import dataclasses
import json

from baselines.pearl import bench
from baselines.pearl.config import PEARLConfig


def test_quick_pearl_bench_writes_both_precisions(tmp_path, capsys):
    out = tmp_path / "bench.json"
    out.write_text(json.dumps({"machine": {"cpu": "x"}}))
    assert bench.main(["--quick", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["machine"] == {"cpu": "x"}  # added to the file, not replacing it
    step = figures["pearl_step"]
    for precision in ("fp32", "bf16"):
        assert step[precision]["step_seconds"] > 0 and step[precision]["flops_per_s"] > 0
    assert step["bf16_speedup"] > 0
    assert "PEARL gradient step" in capsys.readouterr().out


def test_step_flops_by_hand():
    config = PEARLConfig(
        latent_dim=1, hidden_sizes=(2,), encoder_hidden_sizes=(3,), meta_batch=1, batch_size=1,
        embedding_batch_size=1,
    )  # fmt: skip
    # obs 1, act 1: Q 3->2->1 = 16, V 2->2->1 = 12, policy 2->2->2 = 16, encoder 3->3->2 = 30
    q, v, policy, encoder = 16, 12, 16, 30
    forward = policy + 4 * q + 2 * v
    backward = 2 * (2 * q + v + policy) + 2 * q
    assert bench.step_flops(config, 1, 1) == forward + backward + 3 * encoder
    twice = dataclasses.replace(config, batch_size=2)
    assert bench.step_flops(twice, 1, 1) == 2 * (forward + backward) + 3 * encoder
