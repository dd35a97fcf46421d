"""analysis.style: one colour and label per method, a deterministic fallback for methods never seen."""

from __future__ import annotations

import importlib

import pytest

from analysis import style


def test_known_methods_have_fixed_labels():
    styles = style.method_styles(["random", "pearl", "maml", "rl2", "trmrl"])
    assert [s.label for s in styles.values()] == ["TrMRL", "RL²", "MAML-TRPO", "PEARL", "Random"]
    assert len({s.color for s in styles.values()}) == 5
    # Greyscale-safe: markers and line styles differ as well as colours.
    assert len({s.marker for s in styles.values()}) == 5
    assert len({str(s.linestyle) for s in styles.values()}) == 5


def test_unseen_methods_get_distinct_deterministic_colours():
    a = style.method_styles(["zeta", "trmrl", "alpha", "random"])
    b = style.method_styles(["alpha", "random", "zeta", "trmrl"])
    assert a == b
    assert list(a) == ["trmrl", "alpha", "zeta", "random"]  # known first, unknown sorted, random last
    assert a["alpha"].color == style.FALLBACK_PALETTE[0] and a["zeta"].color == style.FALLBACK_PALETTE[1]
    assert a["alpha"].label == "alpha"
    assert a["alpha"].marker != a["zeta"].marker and a["alpha"].marker not in {
        m.marker for m in style.METHODS.values()
    }
    many = style.method_styles([f"m{i:02d}" for i in range(25)])  # more methods than colours: no crash
    assert len(many) == 25


def test_suite_order_and_grid():
    assert style.suite_order(["ml45", "zzz", "point-nav", "aaa"]) == ["point-nav", "ml45", "aaa", "zzz"]
    assert style.format_steps(64_000) == "64k" and style.format_steps(50_000_000) == "50M"
    assert style.runs_note([3, 3]) == "n = 3 runs" and style.runs_note([2, 3]) == "n = 2-3 runs"
    assert style.grid_shape(1) == (1, 1)
    assert style.grid_shape(4) == (2, 3)
    assert style.grid_shape(11) == (4, 3)


@pytest.mark.parametrize("suite", ["point-nav", "halfcheetah-vel", "ant-dir-2d", "ant-goal", "ml45"])
def test_parameter_labels_and_ranges_come_from_the_suite_catalog(suite):
    """One definition: the analysis reads the catalog, and the built suite carries the same facts."""
    suites = pytest.importorskip("benchmark.suites")
    entry = suites.SUITES[suite]
    assert style.task_parameter_label(suite) == (entry.param_name or "task parameter")
    assert style.train_range(suite) == entry.train_range
    assert style.task_parameter_label("a-suite-nobody-registered") == "task parameter"
    module_name, _ = entry.builder.split(":")
    try:
        importlib.import_module(module_name)
    except ImportError as exc:
        pytest.skip(f"{module_name} not importable here ({exc})")
    if entry.family == "metaworld":
        return  # building needs the Meta-World task cache; Meta-World has no scalar task parameter
    built = entry.load()(0)
    assert (built.param_name, built.train_param_range) == (entry.param_name, entry.train_range)
    facts = (built.horizon, built.episodes_per_trial, built.has_success)
    assert facts == (entry.horizon, entry.episodes_per_trial, entry.has_success)
