"""The method-agnostic harness: suites, trials, the agent contract, evaluation protocol, runs, results, CLI.

Nothing in this package imports a method's code except through :mod:`benchmark.registry`.
"""

__version__ = "0.1.0"
