"""The ``cluster`` marker: tests against a real Ray head on loopback (``tox -e cluster``).

They need the ``cluster`` extra (ray) and are skipped without it; with ray installed they still run only
when asked for (``-m cluster``), so the default ``make test`` never starts a Ray head.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: against a real Ray head on loopback (`tox -e cluster`)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "cluster" in (config.option.markexpr or "").replace("not cluster", ""):
        return
    skip = pytest.mark.skip(reason="Ray cluster test: run with `-m cluster` (tox -e cluster)")
    for item in items:
        if item.get_closest_marker("cluster"):
            item.add_marker(skip)
