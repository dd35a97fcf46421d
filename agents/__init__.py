"""Meta-RL agents of the suite: ``trmrl`` (the paper's agent) and the shared math in ``common``."""
