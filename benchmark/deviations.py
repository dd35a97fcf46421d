"""The configuration section of ``DEVIATIONS.md``, generated from the methods' provenance records.

``python -m benchmark.deviations --write`` rewrites the section between its two markers;
``--check`` exits 1 when the file and the records disagree (a test runs the same check), so the
document and the code cannot drift apart.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from benchmark.provenance import ConfigRecord, deviations_markdown
from benchmark.registry import load_method, method_names, methods_of_profile
from benchmark.suites import SUITES

DEVIATIONS_MD = Path(__file__).resolve().parent.parent / "DEVIATIONS.md"
BEGIN = "<!-- BEGIN GENERATED: configuration deviations (python -m benchmark.deviations --write) -->"
END = "<!-- END GENERATED: configuration deviations -->"
DOCUMENTED_TIERS = ("paper", "quick")
"""``smoke`` measures nothing: its tiny networks are not listed."""


def documented_methods() -> tuple[str, ...]:
    """The methods of the paper's comparison (the registry entries that join the ``paper`` grid), without
    ablation variants (their method's record plus the overrides the registry lists). A new method joins
    the paper grid, and this document, when its entry says so; ``make deviations`` then lists it."""
    paper = set(methods_of_profile("paper"))
    return tuple(m for m in method_names(variants=False) if m in paper)


def all_records(tiers: tuple[str, ...] = DOCUMENTED_TIERS) -> Iterator[tuple[str, str, str, ConfigRecord]]:
    """``(method, tier, suite, record)`` for every documented method (:func:`documented_methods`), tier and
    suite; a tier below ``paper`` lists only the entries where it differs from ``paper``."""
    for method in documented_methods():
        agent_class = load_method(method)
        for tier in tiers:
            for suite in SUITES:
                tier_record = agent_class.config_record(suite, tier)
                if tier != "paper":
                    paper = agent_class.config_record(suite, "paper")
                    tier_record = ConfigRecord({k: e for k, e in tier_record.items() if e != paper[k]})
                yield method, tier, suite, tier_record


def generated_section() -> str:
    return deviations_markdown(all_records())


def _split(text: str) -> tuple[str, str, str]:
    if BEGIN not in text or END not in text:
        raise ValueError(f"DEVIATIONS.md lacks the markers {BEGIN!r} ... {END!r}")
    head, rest = text.split(BEGIN, 1)
    body, tail = rest.split(END, 1)
    return head, body, tail


def is_current(path: Path = DEVIATIONS_MD) -> bool:
    """Whether the generated section of ``path`` equals what the records generate now."""
    _, body, _ = _split(path.read_text())
    return body.strip() == generated_section().strip()


def write(path: Path = DEVIATIONS_MD) -> None:
    head, _, tail = _split(path.read_text())
    path.write_text(f"{head}{BEGIN}\n\n{generated_section()}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.deviations", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="rewrite the generated section of DEVIATIONS.md")
    action.add_argument("--check", action="store_true", help="exit 1 if DEVIATIONS.md is out of date")
    args = parser.parse_args(argv)
    if args.write:
        write()
        return 0
    if is_current():
        return 0
    print(
        "benchmark: error: DEVIATIONS.md's configuration section is out of date; run "
        "python -m benchmark.deviations --write",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
