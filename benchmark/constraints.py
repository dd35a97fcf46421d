"""Declared ranges of config fields: each field states its range once, the harness checks every field.

A method's config is a frozen dataclass. Each field is declared with :func:`checked`, which stores a
:class:`Check` in the field's metadata; relations between fields (``min_std <= init_std``) are a
``relations`` class attribute of :class:`Relation` s. :func:`check_config` runs them all and raises a
one-line ``ValueError`` naming the first field out of range; the harness calls it on every resolved config
(after ``--set``), before anything is built or written, and a contract test asserts that every field of
every registered method declares its check. Example::

    @dataclass(frozen=True, kw_only=True)
    class MyConfig:
        hidden_sizes: tuple[int, ...] = checked((64, 64), layer_widths())
        learning_rate: float = checked(3e-4, number(above=0))
        relations: ClassVar[tuple[Relation, ...]] = ()

Suite-dependent checks (a Meta-World meta-batch that covers the training classes) stay in the agent's
``validate_config``; :func:`check_meta_batch_covers_classes` is the shared one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CHECK_KEY = "check"
"""the key of a field's :class:`Check` in ``dataclasses.Field.metadata``"""


@dataclass(frozen=True)
class Check:
    """What one field's value must be: a predicate and the words that complete "must be ..."."""

    holds: Callable[[Any], bool]
    expected: str


@dataclass(frozen=True)
class Relation:
    """A condition between fields. ``message`` is formatted with the config's fields (``{init_std}``)."""

    holds: Callable[[Any], bool]
    message: str


def checked(default: Any, check: Check) -> Any:
    """A dataclass field with ``default`` whose values must pass ``check`` (the field's one declaration)."""
    return dataclasses.field(default=default, metadata={CHECK_KEY: check})


def field_check(field: dataclasses.Field[Any]) -> Check | None:
    """The check a field declares, or None."""
    check = field.metadata.get(CHECK_KEY)
    return check if isinstance(check, Check) else None


def check_config(config: Any) -> None:
    """Raise ``ValueError`` (one line) naming the first field of ``config`` out of its declared range.

    Raises:
        TypeError: a field declares no check (a config class must declare one for every field).
        ValueError: a value out of range, or a relation between fields that does not hold.
    """
    name = type(config).__name__
    for field in dataclasses.fields(config):
        check = field_check(field)
        if check is None:
            raise TypeError(f"{name}.{field.name} declares no range: declare it with checked(default, check)")
        value = getattr(config, field.name)
        if not check.holds(value):
            raise ValueError(f"{name}.{field.name} must be {check.expected}, got {value!r}")
    values = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}
    for relation in getattr(type(config), "relations", ()):
        if not relation.holds(config):
            raise ValueError(f"{name}: {relation.message.format(**values)}")


def check_meta_batch_covers_classes(meta_batch: int, suite: str, field: str = "meta_batch_size") -> None:
    """Raise ``ValueError`` when a Meta-World meta-batch is not a multiple of the suite's training classes.

    The harness's task sampler cycles through the classes (class-stratified, as garage's
    ``MetaWorldTaskSampler``), so an uneven meta-batch would weight some classes more than others.
    """
    from benchmark.suites import SUITES

    classes = SUITES[suite].train_classes
    if classes > 1 and meta_batch % classes:
        raise ValueError(
            f"{field} {meta_batch} on {suite} must be a multiple of its {classes} training classes "
            "(class-stratified task sampling, as garage's MetaWorldTaskSampler)"
        )


# ---- the checks fields declare -------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def integer(at_least: int = 0) -> Check:
    """An integer (not a bool) >= ``at_least``: counts of steps, tasks, layers."""
    return Check(lambda v: _is_int(v) and v >= at_least, f"an integer >= {at_least}")


def number(
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
) -> Check:
    """A finite real number within the given bounds (``above``/``below`` exclusive, the others inclusive)."""
    bounds = [
        (above, lambda v, b: v > b, "> {}"),
        (at_least, lambda v, b: v >= b, ">= {}"),
        (below, lambda v, b: v < b, "< {}"),
        (at_most, lambda v, b: v <= b, "<= {}"),
    ]
    active = [(bound, test, words.format(bound)) for bound, test, words in bounds if bound is not None]

    def holds(value: Any) -> bool:
        return _is_real(value) and all(test(value, bound) for bound, test, _ in active)

    words = " and ".join(text for _, _, text in active)
    return Check(holds, f"a finite number {words}".rstrip() if words else "a finite number")


def fraction(*, open_low: bool = False, open_high: bool = False) -> Check:
    """A number in [0, 1], with either end open (a discount is (0, 1], a clip ratio (0, 1))."""
    interval = f"{'(' if open_low else '['}0, 1{')' if open_high else ']'}"

    def holds(value: Any) -> bool:
        if not _is_real(value):
            return False
        low_ok = value > 0 if open_low else value >= 0
        high_ok = value < 1 if open_high else value <= 1
        return low_ok and high_ok

    return Check(holds, f"a number in {interval}")


def flag() -> Check:
    """A bool."""
    return Check(lambda v: isinstance(v, bool), "true or false")


def one_of(*choices: Any) -> Check:
    """One of the listed values (a ``Literal`` field)."""
    return Check(lambda v: v in choices, "one of " + ", ".join(repr(c) for c in choices))


def layer_widths(*, allow_empty: bool = False) -> Check:
    """A tuple of positive integers: the widths of hidden layers (empty allowed only with ``allow_empty``)."""

    def holds(value: Any) -> bool:
        return (
            isinstance(value, tuple)
            and (allow_empty or len(value) > 0)
            and all(_is_int(width) and width > 0 for width in value)
        )

    return Check(holds, "a tuple of positive layer widths" + ("" if allow_empty else " (at least one)"))


def optional(check: Check) -> Check:
    """None, or a value that passes ``check``."""
    return Check(lambda v: v is None or check.holds(v), f"None or {check.expected}")
