"""Checks of a command's ``--help`` shared by the benchmark and analysis CLI tests."""

from __future__ import annotations

import argparse

NO_DEFAULT = (None, False, [], (), argparse.SUPPRESS)


def arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every option and positional a user can give ``parser`` (not ``--help``, not the verb choice)."""
    return [
        action
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
    ]


def verbs(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-parsers of a parser with verbs, by verb."""
    (sub,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return dict(sub.choices)


def help_problems(parser: argparse.ArgumentParser, shown: str) -> list[str]:
    """What is wrong with ``shown``, the ``--help`` text printed for ``parser``: an argument missing from it
    or without help, a default that its help does not state, a "(default: None)"."""
    problems = ["a help line says (default: None)"] if "(default: None)" in shown else []
    flat = "".join(shown.split())  # argparse wraps lines where it likes
    for action in arguments(parser):
        name = "/".join(action.option_strings) or action.dest
        text = action.help
        if not text or text == argparse.SUPPRESS or not text.strip():
            problems.append(f"{name}: no help")
            continue
        if "%" not in text and "".join(text.split()) not in flat:
            problems.append(f"{name}: its help is not shown")
        for option in action.option_strings:
            if option not in shown:
                problems.append(f"{option}: not in the help")
        has_default = not any(action.default is value or action.default == value for value in NO_DEFAULT)
        # Stated in the help itself, or appended by an ArgumentDefaultsHelpFormatter.
        shows_default = "default" in text or f"(default:{action.default})" in flat
        if has_default and not shows_default:
            problems.append(f"{name}: the default {action.default!r} is not in its help")
    return problems
