"""TrMRL: "Transformers are Meta-Reinforcement Learners" (Melo, ICML 2022), faithful to the original code.

The agent and its config are imported on first use (``from agents.trmrl import TrMRLAgent`` still works), so
that the torch-free modules of this package (``config``, ``provenance``, ``cost``) load without torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TrMRLAgent", "TrMRLConfig"]


def __getattr__(name: str) -> Any:
    if name == "TrMRLAgent":
        from agents.trmrl.agent import TrMRLAgent

        return TrMRLAgent
    if name == "TrMRLConfig":
        from agents.trmrl.config import TrMRLConfig

        return TrMRLConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
