"""A synthetic results table that passes the schema, and helpers shared by the analysis tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.results.schema import COLUMNS, validate

# Final skill in [0, 1] per method, and whether it improves over the episodes of a trial.
SKILL = {"trmrl": (0.9, True), "rl2": (0.7, True), "my_agent": (0.55, False), "random": (0.0, False)}


def _grid(method: str, budget: int) -> list[int]:
    if method == "my_agent":  # a method on its own evaluation grid
        return [0, budget * 2 // 5, budget * 4 // 5]
    return [budget * i // 4 for i in range(5)]


def make_synthetic_table(
    *,
    seeds: int = 3,
    tasks: int = 4,
    episodes: int = 3,
    budget: int = 100_000,
    methods=tuple(SKILL),
    seed: int = 0,
) -> pd.DataFrame:
    """Suites halfcheetah-vel (return, meta_test + ood with a velocity), ml1-push (success and return, no
    task parameter, no ood) and point-nav (return and success, meta_test + ood); episode_length rows too."""
    rng = np.random.default_rng(seed)
    rows: list[tuple] = []
    suites = {
        "halfcheetah-vel": {"meta_test": (0.0, 3.0), "ood": (3.0, 4.0)},
        "ml1-push": {"meta_test": None},
        "point-nav": {"meta_test": (0.0, 1.0), "ood": (1.0, 1.5)},
    }
    for method in methods:
        final_skill, adapts = SKILL.get(method, (0.5, True))
        for suite, splits in suites.items():
            for s in range(seeds):
                run_id = f"{method}-{suite}-{s}"
                seed_skill = final_skill * (1.0 + 0.08 * rng.standard_normal())
                for env_steps in _grid(method, budget):
                    progress = 1.0 - np.exp(-3.0 * env_steps / budget)
                    skill = np.clip(seed_skill * progress, 0.0, 1.0)
                    for split, bounds in splits.items():
                        params = [None] * tasks if bounds is None else rng.uniform(*bounds, size=tasks)
                        for task_id, param in enumerate(params):
                            for episode in range(1, episodes + 1):
                                factor = (1.0 - 0.5**episode) / (1.0 - 0.5**episodes) if adapts else 0.8
                                quality = skill * factor
                                if split == "ood" and param is not None:
                                    quality *= max(
                                        0.0, 1.0 - 0.6 * (param - bounds[0]) / (bounds[1] - bounds[0])
                                    )
                                noise = rng.standard_normal()
                                if suite == "halfcheetah-vel":
                                    ret = -200.0 * (0.2 + param / 3.0) * (1.0 - 0.85 * quality) + 5.0 * noise
                                    metrics = {"return": ret}
                                elif suite == "ml1-push":
                                    success = float(rng.random() < 0.05 + 0.9 * quality)
                                    metrics = {
                                        "return": 400.0 * quality + 4000.0 * success + 30 * noise,
                                        "success": success,
                                    }
                                else:
                                    ret = -20.0 * param * (1.0 - 0.8 * quality) + 0.3 * noise
                                    metrics = {"return": ret, "success": float(rng.random() < quality)}
                                metrics["episode_length"] = 500.0 if suite.startswith("ml") else 200.0
                                for metric, value in metrics.items():
                                    rows.append(
                                        (
                                            run_id,
                                            method,
                                            suite,
                                            split,
                                            s,
                                            env_steps,
                                            task_id,  # trial: one trial per task here
                                            task_id,
                                            None,  # task_name: these suites have no classes
                                            episode,
                                            param,
                                            metric,
                                            float(value),
                                        )
                                    )
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    return validate(df)


@pytest.fixture(scope="session")
def synthetic_table() -> pd.DataFrame:
    return make_synthetic_table()


@pytest.fixture(scope="session")
def make_table():
    """The table builder itself, for tests that need a variant (``from conftest import`` is ambiguous when
    several test folders have a conftest.py)."""
    return make_synthetic_table
