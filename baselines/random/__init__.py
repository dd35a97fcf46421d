"""The random agent: uniform actions, no learning. The floor of every figure and the harness's smoke test."""
