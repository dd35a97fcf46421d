"""Every configuration value of every method has a source in the original code or a written reason.

Runs over the registry, every suite and every configuration tier: a new method is checked the moment its
registry line exists.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from benchmark import deviations, originals
from benchmark.cli import main
from benchmark.constraints import check_config
from benchmark.errors import BenchmarkError
from benchmark.profiles import CONFIG_TIERS
from benchmark.provenance import Cited, ConfigRecord, Deviation, check_record_matches, ours
from benchmark.registry import load_method, method_names
from benchmark.suites import SUITES

METHODS = method_names(variants=False)


@pytest.mark.parametrize("method", METHODS)
def test_every_value_has_a_source_or_a_reason_and_is_what_runs(method: str) -> None:
    agent_class = load_method(method)
    for suite in SUITES:
        for tier in CONFIG_TIERS:
            record = agent_class.config_record(suite, tier)
            assert isinstance(record, ConfigRecord), (method, suite, tier)
            config = agent_class.default_config(suite, tier)
            fields = [f.name for f in dataclasses.fields(config)]
            assert list(record) == fields, (method, suite, tier, "record fields out of order or missing")
            assert check_record_matches(record, config) == [], (method, suite, tier)
            check_config(config)  # what the harness checks on every run
            agent_class.validate_config(config, suite)
            for name, entry in record.items():
                assert isinstance(entry, (Cited, Deviation)), (method, suite, tier, name)
                if isinstance(entry, Deviation):
                    assert len(entry.reason.split()) >= 3, (method, suite, tier, name, entry.reason)


@pytest.mark.parametrize("method", METHODS)
def test_paper_tier_of_a_published_suite_cites_the_original(method: str) -> None:
    """On the paper's suites most values of a method with an original code base must be read from it.

    A method that cites no original anywhere (random, a new method of one's own) has only values with
    their reasons, which DEVIATIONS.md lists; a method that cites some must cite most."""
    agent_class = load_method(method)
    records = {
        suite: agent_class.config_record(suite, "paper") for suite in ("halfcheetah-vel", "ml1-reach", "ml45")
    }
    if not any(isinstance(e, Cited) for record in records.values() for e in record.values()):
        pytest.skip(f"{method} cites no original code: every value is its own, with a reason")
    for suite, record in records.items():
        cited = sum(isinstance(e, Cited) for e in record.values())
        assert cited >= len(record) // 2, (method, suite, cited, len(record))


@pytest.mark.parametrize("method", METHODS)
def test_citations_name_a_declared_original_at_its_commit(method: str) -> None:
    """A commit is written once (benchmark/originals.py): no record cites another commit of a repository."""
    declared = {(r.repo, r.commit) for r in originals.ALL}
    agent_class = load_method(method)
    for suite in SUITES:
        for tier in CONFIG_TIERS:
            for name, entry in agent_class.config_record(suite, tier).items():
                cited = entry if isinstance(entry, Cited) else entry.original
                if cited is not None:
                    assert (cited.source.repo, cited.source.commit) in declared, (method, suite, name)


@pytest.mark.parametrize("method", METHODS)
def test_unknown_suite_or_tier_is_refused_in_one_line(method: str) -> None:
    agent_class = load_method(method)
    with pytest.raises(BenchmarkError, match="suite"):
        agent_class.config_record("no-such-suite", "paper")
    with pytest.raises(BenchmarkError, match="tier"):
        agent_class.config_record("point-nav", "no-such-tier")
    with pytest.raises(BenchmarkError, match="suite"):
        agent_class.default_config("no-such-suite", "paper")


def test_deviations_md_is_generated_from_the_records() -> None:
    assert deviations.is_current(), "run: python -m benchmark.deviations --write"


def test_record_refuses_a_missing_field_and_a_deviation_without_reason() -> None:
    @dataclasses.dataclass(frozen=True)
    class Two:
        a: int = 1
        b: int = 2

    with pytest.raises(ValueError, match="missing"):
        ours("a reason here", a=1).build(Two)
    with pytest.raises(ValueError, match="reason"):
        Deviation(1, " ")
    assert ours("a reason here", a=3, b=4).build(Two) == Two(3, 4)


# ---- the command line -----------------------------------------------------------------------------------


def _config(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["config", *args]) == 0
    return capsys.readouterr().out


def _line(out: str, field: str) -> str:
    return next(line for line in out.splitlines() if line.split()[:1] == [field])


def test_config_shows_pearl_exploration_episodes_from_oyster(capsys: pytest.CaptureFixture[str]) -> None:
    line = _line(
        _config(capsys, "--method", "pearl", "--suite", "halfcheetah-dir", "--tier", "paper"),
        "num_exp_traj_eval",
    )
    assert line.split()[1] == "2"
    assert "katerakelly/oyster@" in line and "configs/cheetah-dir.json:" in line


def test_config_shows_maml_metaworld_inner_lr_from_garage_pr_2287(capsys: pytest.CaptureFixture[str]) -> None:
    line = _line(_config(capsys, "--method", "maml", "--suite", "ml1-reach"), "inner_lr")
    assert line.split()[1] == "0.0001"
    assert "rlworkgroup/garage@0849200" in line and "metaworld_examples/maml_trpo_metaworld_ml1.py:" in line


def test_config_shows_pearl_metaworld_reward_scale(capsys: pytest.CaptureFixture[str]) -> None:
    line = _line(_config(capsys, "--method", "pearl", "--suite", "ml10"), "reward_scale")
    assert line.split()[1] == "1000"
    assert "metaworld_examples/pearl_metaworld_ml10.py:" in line


def test_config_marks_user_overrides_and_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    out = _config(capsys, "--method", "rl2", "--suite", "point-nav", "--tier", "quick", "--set", "n_epochs=3")
    assert "--set" in _line(out, "n_epochs")
    data = json.loads(_config(capsys, "--method", "trmrl", "--suite", "halfcheetah-vel", "--json"))
    assert data["wm_size"]["value"] == 5
    assert data["wm_size"]["source"]["repo"] == "luckeciano/transformers-metarl"
    assert data["wm_size"]["source"]["url"].startswith(
        "https://github.com/luckeciano/transformers-metarl/blob/"
    )


def test_config_shows_a_variant_override(capsys: pytest.CaptureFixture[str]) -> None:
    out = _config(capsys, "--method", "trmrl-trial", "--suite", "point-nav", "--tier", "smoke")
    assert "'trial'" in _line(out, "memory_scope") and "variant" in _line(out, "memory_scope")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method", "nope", "--suite", "point-nav"], "unknown method"),
        (["--method", "pearl", "--suite", "nope"], "unknown suite"),
        (["--method", "pearl", "--suite", "point-nav", "--tier", "nope"], "unknown configuration tier"),
        (["--method", "pearl", "--suite", "point-nav", "--set", "batch_size=0"], "batch_size"),
        (["--method", "pearl", "--suite", "point-nav", "--set", "no_field=1"], "no field"),
    ],
)
def test_config_bad_input_is_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["config", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
