"""The repository stands alone: what a user reads refers only to things a user has.

Every tracked text file (``git ls-files``, plus new files not yet committed) is checked for references a
reader outside the project cannot follow: numbered issues of an internal tracker, folders beside the
checkout, and a design document anywhere but ``docs/``. Every relative Markdown link must resolve to a file
or folder of the repository. Public references stay allowed: ``PR #2287`` of garage, ``owner/repo#573``.
"""

from __future__ import annotations

import functools
import posixpath
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Written so that this file does not match its own patterns.
FORBIDDEN = {
    "an internal issue number": re.compile(r"\bissues?\s*#\s*\d+", re.IGNORECASE),
    "a bare issue number": re.compile(r"(?<![\w\-/}])(?<!PR )#\d{1,4}\b"),
    "a reference folder outside the repository": re.compile(r"shared[/]reference"),
    "a path beside the checkout": re.compile(r"\.\.[/]shared\b"),
    "a machine-local path": re.compile(r"/work[/]shared\b"),
}
DESIGN_MENTION = re.compile(r"[\w./-]*DESIGN[.]md")
DESIGN_PATH = "docs/DESIGN" + ".md"

MARKDOWN_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCED_CODE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]*`")
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@functools.cache
def _listing() -> tuple[str, ...]:
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return tuple(sorted(name for name in set(listing.split("\0")) if name and (ROOT / name).is_file()))


def repository_files() -> tuple[str, ...]:
    """Tracked files and new files git does not ignore, that exist in the working tree."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return _listing()


def _text(name: str) -> str | None:
    """The file's text, or ``None`` for a binary file (parquet, PNG, PDF, checkpoints)."""
    data = (ROOT / name).read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _where(text: str, position: int) -> str:
    line = text.count("\n", 0, position) + 1
    return f"line {line}: {text.splitlines()[line - 1].strip()[:100]}"


def _inside(folder: str, target: str) -> str | None:
    """``target`` seen from ``folder`` (both repository-relative); ``None`` if it leaves the repository."""
    path = posixpath.normpath(posixpath.join(folder, target))
    return None if path == ".." or path.startswith("../") else path


def _exists_in_repository(path: str) -> bool:
    """A file of the repository, or a folder that holds one."""
    files = repository_files()
    path = path.rstrip("/")
    return path in files or path in {"", "."} or any(name.startswith(path + "/") for name in files)


def _relative_links(text: str) -> list[tuple[str, int]]:
    """Relative link targets of a Markdown text (code left out), with their positions."""

    def blank(match: re.Match[str]) -> str:
        return " " * len(match.group())  # keeps positions, so line numbers stay right

    body = INLINE_CODE.sub(blank, FENCED_CODE.sub(blank, text))
    links = []
    for match in MARKDOWN_LINK.finditer(body):
        target = match.group(1)
        if URL_SCHEME.match(target) or target.startswith("#"):
            continue
        links.append((target.split("#")[0].split("?")[0], match.start()))
    return links


def test_the_file_listing_sees_the_repository():
    assert {"README.md", "pyproject.toml", DESIGN_PATH, "tests/unit/test_repository.py"} <= set(
        repository_files()
    )


def test_no_file_refers_to_what_a_user_cannot_see():
    problems = []
    for name in repository_files():
        text = _text(name)
        if text is None:
            continue
        for what, pattern in FORBIDDEN.items():
            problems += [f"{name} {_where(text, m.start())} ({what})" for m in pattern.finditer(text)]
        folder = posixpath.dirname(name)
        for match in DESIGN_MENTION.finditer(text):
            mention = match.group()
            resolved = {_inside(folder, mention), _inside("", mention)}
            if DESIGN_PATH not in resolved:
                problems.append(f"{name} {_where(text, match.start())} (a design document outside docs/)")
    assert not problems, "\n".join(problems)


def test_every_relative_markdown_link_resolves_to_a_file_of_the_repository():
    documents = [name for name in repository_files() if name.endswith(".md")]  # README.md, */README.md, docs/
    assert {"README.md", DESIGN_PATH, "analysis/README.md"} <= set(documents)
    broken = []
    for name in documents:
        text = (ROOT / name).read_text(encoding="utf-8")
        for target, position in _relative_links(text):
            path = _inside(posixpath.dirname(name), target)
            if path is None or not _exists_in_repository(path):
                broken.append(f"{name} {_where(text, position)} -> {target}")
    assert not broken, "\n".join(broken)


def test_the_link_checker_finds_a_broken_link_and_skips_code_and_urls():
    text = "[a](missing.md), [b](https://x.org/y), [c](#anchor), `[d](code.md)`\n```\n[e](fenced.md)\n```\n"
    assert [target for target, _ in _relative_links(text)] == ["missing.md"]
    assert _inside("docs", "../../outside.md") is None
    assert _inside("docs", "../README.md") == "README.md"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("as " + "issue #" + "11 says", True),
        ("(" + "Issues #" + "12/#14)", True),
        ("see (#" + "8)", True),
        ("garage PR #2287", False),
        ("Farama-Foundation/Metaworld#573", False),
        ('"push-v3#7", f"{name}#7"', False),
        ('"#637939",  # moss', False),
        ("| # | claim |", False),
    ],
)
def test_the_issue_patterns_catch_internal_numbers_and_spare_public_ones(text, found):
    hits = [
        what for what in ("an internal issue number", "a bare issue number") if FORBIDDEN[what].search(text)
    ]
    assert bool(hits) == found, hits
