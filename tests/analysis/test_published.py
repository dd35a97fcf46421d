"""Published numbers are stored with their provenance and name only known suites, methods and splits."""

from pathlib import Path

import pandas as pd

from benchmark.registry import METHODS
from benchmark.suites import SUITES
from benchmark.suites.base import SPLITS

PUBLISHED = Path(__file__).resolve().parents[2] / "analysis" / "published.csv"


def test_published_numbers_have_provenance_and_known_keys():
    table = pd.read_csv(PUBLISHED)
    assert set(table["suite"]) <= set(SUITES) and set(table["method"]) <= set(METHODS)
    assert set(table["split"]) <= set(SPLITS)
    for column in ("statistic", "environment_version", "source", "provenance"):
        assert table[column].notna().all() and (table[column].str.len() > 5).all(), column
    assert table["value"].between(0, 100).all()
    # One number per (suite, method, split): Meta-World paper Table 1 for MAML, RL² and PEARL.
    assert not table.duplicated(["suite", "method", "split"]).any() and len(table) == 12
