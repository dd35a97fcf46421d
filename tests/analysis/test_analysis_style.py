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
    assert a["alpha"].label == "alpha"
    assert a["alpha"].color != a["zeta"].color and a["alpha"].color in style.FALLBACK_PALETTE
    assert a["alpha"].marker != a["zeta"].marker and a["alpha"].marker not in {
        m.marker for m in style.METHODS.values()
    }
    many = style.method_styles([f"m{i:02d}" for i in range(25)])  # more methods than colours: no crash
    assert len(many) == 25


def test_ciede2000_matches_the_published_test_pair():
    """Sharma, Wu and Dalal (2005), table 1, pair 1."""
    assert style.delta_e_2000((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485)) == pytest.approx(
        2.0425, abs=1e-4
    )
    assert style.color_distance("#d62728", "#d62728") == 0.0


@pytest.mark.parametrize("name", ["my_agent", "alpha", "zeta", "varibad", "trmrl-v2", "x", "rl2-big"])
def test_an_unseen_method_is_coloured_far_from_every_registered_method(name):
    """A new method must not look like trmrl-trial (or any registered method): its colour is at least
    MIN_COLOR_DISTANCE (CIEDE2000) from each, its marker is none of theirs, and the choice depends on its
    name only (not on which other methods share the table, barring a collision between unseen ones)."""
    mine = style.method_styles([name, "trmrl", "rl2", "maml", "pearl", "trmrl-trial", "random"])[name]
    for known in style.METHODS.values():
        assert style.color_distance(mine.color, known.color) >= style.MIN_COLOR_DISTANCE, known.label
        assert mine.marker != known.marker
    assert style.method_styles([name])[name] == mine


def test_every_fallback_colour_is_far_from_registered_ones_and_from_each_other():
    palette = style.fallback_palette()
    assert palette == style.FALLBACK_PALETTE
    for i, colour in enumerate(palette):
        for known in style.METHODS.values():
            assert style.color_distance(colour, known.color) >= style.MIN_COLOR_DISTANCE, (colour, known)
        for other in palette[i + 1 :]:
            assert style.color_distance(colour, other) >= style.MIN_COLOR_DISTANCE, (colour, other)
    # The old first fallback colour (orange) was this close to trmrl-trial's: the reported confusion.
    assert style.color_distance("#ff7f0e", style.METHODS["trmrl-trial"].color) < style.MIN_COLOR_DISTANCE


def test_registering_a_method_removes_nearby_fallback_colours(monkeypatch):
    black = style.MethodStyle("Mine", "#000000", "v", "-")
    monkeypatch.setitem(style.METHODS, "mine", black)
    assert "#000000" not in style.fallback_palette()
    assert style.method_styles(["mine", "new-one"])["new-one"].color != "#000000"


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
