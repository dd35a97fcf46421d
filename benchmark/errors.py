"""User-facing errors: the CLI prints them as one line and exits with status 2."""


class BenchmarkError(Exception):
    """Bad input from the user (unknown suite, bad budget, malformed file...).

    The message must fit on one line and say what was wrong and what would be right.
    """


class ResultsSchemaError(BenchmarkError):
    """A results table (or metrics file) does not follow the tidy schema of ``benchmark.results.schema``."""


class RunLockedError(BenchmarkError):
    """A run folder is claimed by a live process (another run or sweep working on it)."""
