"""Resolving a method's config: per-suite defaults plus ``--set key=value`` overrides, typed and checked."""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

from benchmark.constraints import check_config
from benchmark.errors import BenchmarkError
from benchmark.provenance import ConfigRecord, user_overrides


def resolve_config(
    method: str, suite: str, tier: str, overrides: list[str] | None = None
) -> tuple[Any, ConfigRecord]:
    """The configuration a run of ``method`` on ``suite`` takes, and its provenance record.

    The method's record for ``(suite, tier)`` gives every value with its source; the method's variant
    overrides and then the user's ``--set`` overrides are applied, and the fields they change are marked as
    such in the returned record. The result is checked as a run checks it: every field against its declared
    range (:func:`benchmark.constraints.check_config`), then the method's suite-dependent ``validate_config``.

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
        check_config(config)  # every field's declared range (benchmark.constraints)
        agent_class.validate_config(config, suite)  # what needs the suite
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
            if not isinstance(value, list):
                raise ValueError("expected a JSON list such as [64, 64]")
            return tuple(value) if origin is tuple else value
        return json.loads(text)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise BenchmarkError(f"cannot parse {key}={text!r} as {hint}: {exc}") from None


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))
