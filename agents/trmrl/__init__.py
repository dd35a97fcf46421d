"""TrMRL: "Transformers are Meta-Reinforcement Learners" (Melo, ICML 2022), faithful to the original code."""

from agents.trmrl.agent import TrMRLAgent
from agents.trmrl.config import TrMRLConfig

__all__ = ["TrMRLAgent", "TrMRLConfig"]
