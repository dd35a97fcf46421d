"""Resolving a method's config: per-suite defaults plus ``--set key=value`` overrides, typed and checked."""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from typing import Any

from benchmark.errors import BenchmarkError
from benchmark.provenance import ConfigRecord, user_overrides


def resolve_config(
    method: str, suite: str, tier: str, overrides: list[str] | None = None
) -> tuple[Any, ConfigRecord]:
    """The configuration a run of ``method`` on ``suite`` takes, and its provenance record.

    The method's record for ``(suite, tier)`` gives every value with its source; the method's variant
    overrides and then the user's ``--set`` overrides are applied, and the fields they change are marked as
    such in the returned record. The result is checked as a run checks it (finite fields, the method's
    ``validate_config``).

    Raises:
        BenchmarkError: unknown method, suite or tier; a malformed override; a value out of range.
    """
    from benchmark import registry
    from benchmark.profiles import check_config_tier
    from benchmark.suites import check_suite_name

    registry.check_method_name(method)
    check_suite_name(suite)
    check_config_tier(tier)
    agent_class = registry.load_method(method)
    base = agent_class.config_record(suite, tier)
    variant = list(registry.METHODS[method].overrides)  # an ablation's own overrides come first
    config = apply_overrides(agent_class.default_config(suite, tier), variant + list(overrides or []))
    try:
        check_finite_fields(config)
        agent_class.validate_config(config, suite)
    except ValueError as exc:
        raise BenchmarkError(f"{method} on {suite}: {exc}") from None
    return config, user_overrides(base, config)


def apply_overrides(config: Any, overrides: list[str]) -> Any:
    """Return ``config`` (a frozen dataclass) with ``key=value`` overrides parsed to the fields' types."""
    if not overrides:
        return config
    hints = typing.get_type_hints(type(config))
    fields = {f.name for f in dataclasses.fields(config)}
    changes: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise BenchmarkError(f"malformed override {item!r}; expected key=value")
        if key not in fields:
            raise BenchmarkError(
                f"{type(config).__name__} has no field {key!r}; fields: {', '.join(sorted(fields))}"
            )
        changes[key] = _parse(text, hints[key], key)
    try:
        return dataclasses.replace(config, **changes)
    except (TypeError, ValueError) as exc:
        raise BenchmarkError(f"invalid config override: {exc}") from None


def _parse(text: str, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    try:
        if hint is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError("expected true or false")
            return text.lower() in ("true", "1")
        if hint in (int, float, str):
            return hint(text)
        if origin is typing.Literal:
            if text not in typing.get_args(hint):
                raise ValueError(f"expected one of {typing.get_args(hint)}")
            return text
        if origin in (tuple, list):
            value = json.loads(text)
            return tuple(value) if origin is tuple else list(value)
        return json.loads(text)
    except (ValueError, json.JSONDecodeError) as exc:
        raise BenchmarkError(f"cannot parse {key}={text!r} as {hint}: {exc}") from None


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def check_finite_fields(config: Any) -> None:
    """Every float field (and float in a tuple field) of a config dataclass is finite: NaN never trains."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        values = value if isinstance(value, (tuple, list)) else (value,)
        for item in values:
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"{f.name} must be finite, got {value!r}")


# ---- field checks shared by every method's config (one-line ValueErrors; the CLI exits 2 on them) ----


def _values(config: Any, names: str) -> list[tuple[str, Any]]:
    return [(name, getattr(config, name)) for name in names.split()]


def _check_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def check_positive(config: Any, names: str) -> None:
    """Every named field is a finite number > 0."""
    for name, value in _values(config, names):
        if _check_number(name, value) <= 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")


def check_non_negative(config: Any, names: str) -> None:
    """Every named field is a finite number >= 0."""
    for name, value in _values(config, names):
        if _check_number(name, value) < 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")


def check_unit_interval(config: Any, names: str, low_open: bool = False) -> None:
    """Every named field lies in [0, 1] ((0, 1] with ``low_open``)."""
    for name, value in _values(config, names):
        x = _check_number(name, value)
        if not (0 < x <= 1 if low_open else 0 <= x <= 1):
            raise ValueError(f"{name} must lie in {'(0, 1]' if low_open else '[0, 1]'}, got {value!r}")


def check_sizes(config: Any, names: str) -> None:
    """Every named field is a non-empty tuple of positive integers (hidden layer widths)."""
    for name, value in _values(config, names):
        if not isinstance(value, (tuple, list)) or not value:
            raise ValueError(f"{name} must be a non-empty tuple of layer widths, got {value!r}")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            raise ValueError(f"{name} must hold positive integers, got {value!r}")
