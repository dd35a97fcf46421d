"""Where each configuration value comes from: read in an original code base, or a deviation and its reason.

A method's configuration for one (suite, tier) is a :class:`ConfigRecord`: one :data:`Entry` per field of its
config dataclass. An entry is either

* :class:`Cited`: the value the original code ran, with the file and lines it is read from, at a fixed
  commit (:class:`Source`); or
* :class:`Deviation`: a value that is ours, with the reason, and the original's value where one exists.

The record is the configuration: ``default_config(suite, tier)`` builds the dataclass from it
(:meth:`ConfigRecord.build`), ``python -m benchmark config`` prints it, the configuration section of
``DEVIATIONS.md`` is generated from it (:func:`deviations_markdown`), and a test resolves every (method,
suite, tier) and checks that each value has a source or a reason and equals what the harness will run.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_LINES = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


@dataclass(frozen=True)
class Source:
    """One file of an original code base at a fixed commit.

    Attributes:
        repo: ``owner/name`` on GitHub.
        commit: the full 40-hex commit the lines refer to.
        path: the file's path inside the repository.
    """

    repo: str
    commit: str
    path: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9a-f]{40}", self.commit):
            raise ValueError(f"Source commit must be 40 hex digits, got {self.commit!r}")
        if "/" not in self.repo:
            raise ValueError(f"Source repo must be owner/name, got {self.repo!r}")

    def cite(self, value: Any, lines: int | str, note: str = "") -> Cited:
        """``value`` as read at ``lines`` of this file (``12``, ``"12-14"`` or ``"12,40"``)."""
        return Cited(value, self, str(lines), note)

    def url(self, lines: str) -> str:
        first, _, last = lines.split(",")[0].partition("-")
        anchor = f"#L{first}" + (f"-L{last}" if last else "")
        return f"https://github.com/{self.repo}/blob/{self.commit}/{self.path}{anchor}"


@dataclass(frozen=True)
class Repository:
    """A code base at a fixed commit; :meth:`file` names one of its files."""

    repo: str
    commit: str

    def file(self, path: str) -> Source:
        return Source(self.repo, self.commit, path)


@dataclass(frozen=True)
class Cited:
    """A value the original ran, read at ``lines`` of ``source``; ``note`` explains how it maps onto ours."""

    value: Any
    source: Source
    lines: str
    note: str = ""

    def __post_init__(self) -> None:
        if not _LINES.match(self.lines):
            raise ValueError(f"lines must look like 12, 12-14 or 12,40; got {self.lines!r}")

    def where(self) -> str:
        """``owner/name@commit7 path:lines``: short enough for a table, exact enough to open."""
        return f"{self.source.repo}@{self.source.commit[:7]} {self.source.path}:{self.lines}"


@dataclass(frozen=True)
class Deviation:
    """A value that differs from the original, or has none: ``reason`` says why, ``original`` what it ran."""

    value: Any
    reason: str
    original: Cited | None = None

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("a deviation needs its reason")


Entry = Cited | Deviation


def deviate(value: Any, reason: str, original: Entry | None = None) -> Deviation:
    """A :class:`Deviation` from ``original`` (the entry it replaces; a deviation's own original is kept)."""
    if isinstance(original, Deviation):
        original = original.original
    return Deviation(value, reason, original)


class ConfigRecord(Mapping[str, Entry]):
    """The entries of one configuration, field name -> :data:`Entry`, in the dataclass's field order."""

    def __init__(self, entries: Mapping[str, Entry]) -> None:
        for name, entry in entries.items():
            if not isinstance(entry, (Cited, Deviation)):
                raise TypeError(f"{name}: a record entry is Cited or Deviation, got {type(entry).__name__}")
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> Entry:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __or__(self, other: Mapping[str, Entry]) -> ConfigRecord:
        return ConfigRecord({**self._entries, **other})

    def read_from(self, source: Source, **values: tuple[Any, int | str]) -> ConfigRecord:
        """This record with ``values`` (``name=(value, lines)``) read from ``source``: a configuration file
        that overrides or completes the defaults (oyster's per-environment JSONs, a launcher's arguments,
        which also pass what the algorithm has no default for)."""
        return self | {name: source.cite(value, lines) for name, (value, lines) in values.items()}

    def in_field_order(self, config_class: type) -> ConfigRecord:
        """The same entries in the order of ``config_class``'s fields, as ``benchmark config`` prints them
        (an entry that is no field stays, last, for :meth:`build` to refuse)."""
        names = [f.name for f in dataclasses.fields(config_class)]
        ordered = {name: self._entries[name] for name in names if name in self._entries}
        return ConfigRecord({**ordered, **self._entries})

    def scaled(self, reason: str, **values: Any) -> ConfigRecord:
        """This record with ``values`` replaced, each a :class:`Deviation` for ``reason`` from the entry it
        replaces (the tiers below ``paper`` and our own suites are written this way)."""
        unknown = set(values) - set(self._entries)
        if unknown:
            raise KeyError(f"no such fields: {sorted(unknown)}")
        changes = {
            name: deviate(value, reason, self._entries[name])
            for name, value in values.items()
            if value != self._entries[name].value
        }
        return self | changes

    def differs_in_meaning(self, reason: str, *names: str) -> ConfigRecord:
        """This record with the named entries kept at the original's value but marked as deviations: the
        number is the original's, what it does here is not (``reason`` says how)."""
        return self | {
            name: deviate(self._entries[name].value, reason, self._entries[name]) for name in names
        }

    def build(self, config_class: type) -> Any:
        """The config dataclass these entries describe; refuses a record that misses or adds a field."""
        fields = [f.name for f in dataclasses.fields(config_class)]
        missing = [name for name in fields if name not in self._entries]
        extra = [name for name in self._entries if name not in fields]
        if missing or extra:
            raise ValueError(
                f"{config_class.__name__} record: missing {missing or 'nothing'}, "
                f"unknown {extra or 'nothing'}"
            )
        return config_class(**{name: self._entries[name].value for name in fields})


def record(**entries: Entry) -> ConfigRecord:
    """A :class:`ConfigRecord` from keyword entries (one per config field)."""
    return ConfigRecord(entries)


def ours(reason: str, **values: Any) -> ConfigRecord:
    """Entries no original has (a suite or an agent of ours): each a :class:`Deviation` for ``reason``."""
    return ConfigRecord({name: Deviation(value, reason) for name, value in values.items()})


def user_overrides(base: ConfigRecord, config: Any) -> ConfigRecord:
    """``base`` with the fields where ``config`` (after ``--set`` and a variant's overrides) differs marked
    as the user's choice."""
    changed = {}
    for name in base:
        value = getattr(config, name)
        if _normalise(value) != _normalise(base[name].value):
            changed[name] = deviate(
                value, "set on the command line (--set) or by the method's variant", base[name]
            )
    return base | changed


def _normalise(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def check_record_matches(record_: ConfigRecord, config: Any) -> list[str]:
    """The fields where ``config`` does not hold the record's value (empty when the two agree)."""
    problems = []
    fields = [f.name for f in dataclasses.fields(config)]
    if set(record_) != set(fields):
        problems.append(f"record fields {sorted(set(record_) ^ set(fields))} do not match the config's")
    for name in fields:
        if name in record_ and _normalise(getattr(config, name)) != _normalise(record_[name].value):
            problems.append(f"{name}: config {getattr(config, name)!r} != record {record_[name].value!r}")
    return problems


# ---------------------------------------------------------------------------------------------- rendering


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "(" + ", ".join(format_value(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value) if isinstance(value, str) else str(value)


def describe(entry: Entry) -> str:
    """One line: where a cited value is read, or why a deviation was made (and what the original ran)."""
    if isinstance(entry, Cited):
        return entry.where() + (f" ({entry.note})" if entry.note else "")
    text = f"DEVIATION: {entry.reason}"
    if entry.original is not None:
        text += f" [original {format_value(entry.original.value)} at {entry.original.where()}]"
    return text


def format_record(record_: ConfigRecord, title: str) -> str:
    """The table ``python -m benchmark config`` prints: field, value, source or deviation."""
    width = max(len(name) for name in record_)
    values = {name: format_value(entry.value) for name, entry in record_.items()}
    value_width = min(max(len(v) for v in values.values()), 24)
    lines = [title]
    for name, entry in record_.items():
        lines.append(f"  {name:<{width}}  {values[name]:<{value_width}}  {describe(entry)}")
    cited = sum(isinstance(e, Cited) for e in record_.values())
    lines.append(
        f"{cited} of {len(record_)} values cited from the original code, {len(record_) - cited} deviations"
    )
    return "\n".join(lines)


def record_to_json(record_: ConfigRecord) -> dict[str, Any]:
    """A JSON-ready view: per field its value and either ``source`` (url, repo, commit, path, lines) or
    ``deviation`` (reason and the original's value and source, if any)."""

    def cited(entry: Cited) -> dict[str, Any]:
        s = entry.source
        return {
            "repo": s.repo,
            "commit": s.commit,
            "path": s.path,
            "lines": entry.lines,
            "url": s.url(entry.lines),
            "note": entry.note,
        }

    out: dict[str, Any] = {}
    for name, entry in record_.items():
        value = list(entry.value) if isinstance(entry.value, tuple) else entry.value
        if isinstance(entry, Cited):
            out[name] = {"value": value, "source": cited(entry)}
        else:
            original = None
            if entry.original is not None:
                orig_value = entry.original.value
                original = {
                    "value": list(orig_value) if isinstance(orig_value, tuple) else orig_value,
                    "source": cited(entry.original),
                }
            out[name] = {"value": value, "deviation": {"reason": entry.reason, "original": original}}
    return out


def deviations_markdown(records: Iterable[tuple[str, str, str, ConfigRecord]]) -> str:
    """The generated configuration section of ``DEVIATIONS.md``: per method and tier, each reason once with
    the values it explains and the suites they apply to.

    Args:
        records: ``(method, tier, suite, record)`` for every combination to list.
    """
    # (method, tier) -> reason -> (field, value, original) -> suites
    grouped: dict[tuple[str, str], dict[str, dict[tuple[str, str, str], list[str]]]] = {}
    for method, tier, suite, record_ in records:
        per_tier = grouped.setdefault((method, tier), {})
        for name, entry in record_.items():
            if isinstance(entry, Deviation):
                original = (
                    f"original {format_value(entry.original.value)} at `{entry.original.where()}`"
                    if entry.original is not None
                    else "no original"
                )
                key = (name, format_value(entry.value), original)
                per_tier.setdefault(entry.reason, {}).setdefault(key, []).append(suite)
    lines: list[str] = []
    for (method, tier), reasons in grouped.items():
        lines += [f"### {method}, tier `{tier}`", ""]
        if not reasons:
            same = "cited from the original code" if tier == "paper" else "the `paper` tier's"
            lines.append(f"Every value is {same}.")
        for reason, values in reasons.items():
            lines.append(f"- {reason}.")
            for (name, value, original), suites in values.items():
                lines.append(f"  - `{name}` = {value} ({original}) on {', '.join(suites)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
