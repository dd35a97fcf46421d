"""The point-nav oracle: a policy that knows the goal and walks straight to it at full speed.

Its return is the upper (1.0) reference of ``point-nav`` in ``analysis/references.csv``. Pure NumPy; the
constants are read from :mod:`benchmark.suites.point_nav`.

Why this is the optimum: each action moves the point by at most ``MAX_STEP`` per axis, so after ``t`` steps
the reachable set is the square ``[-t MAX_STEP, t MAX_STEP]^2``; the oracle's position after ``t`` steps is
the point of that square nearest the goal, ``clip(goal, -t MAX_STEP, t MAX_STEP)`` (each axis moves
independently), so no policy is closer to the goal at any step and the return ``-sum_t distance_t`` is the
largest possible.

    .venv/bin/python -m analysis.scripts.point_nav_oracle
"""

from __future__ import annotations

import numpy as np

from benchmark.suites.point_nav import HORIZON, MAX_STEP, SUCCESS_RADIUS, TRAIN_RADIUS


def oracle_returns(goals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per goal ``(return, success)`` of the straight-line oracle over one episode of ``HORIZON`` steps."""
    reach = MAX_STEP * np.arange(1, HORIZON + 1)[:, None, None]  # (steps, 1, 1)
    position = np.clip(goals[None], -reach, reach)  # (steps, goals, 2)
    distance = np.linalg.norm(position - goals[None], axis=-1)
    return -distance.sum(axis=0), (distance <= SUCCESS_RADIUS).any(axis=0)


def main() -> None:
    rng = np.random.default_rng(2022)
    count = 1_000_000
    # The meta_test distribution of point_nav.build_point_nav: uniform over the disc of radius TRAIN_RADIUS.
    radius = TRAIN_RADIUS * np.sqrt(rng.uniform(0.0, 1.0, count))
    angle = rng.uniform(0.0, 2 * np.pi, count)
    goals = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1)
    returns, success = oracle_returns(goals)
    sem = returns.std(ddof=1) / np.sqrt(count)
    print(f"point-nav oracle return over {count} meta_test goals: {returns.mean():.4f} (sem {sem:.4f})")
    print(f"point-nav oracle success: {100 * success.mean():.2f} %")


if __name__ == "__main__":
    main()
