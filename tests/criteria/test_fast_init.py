"""``criteria.types.fast_init``: the one-step constructor of the hot frozen dataclasses builds
exactly what the dataclass-generated ``__init__`` builds (same parameters, defaults and
factories), and the instances stay frozen."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from criteria import endpoints, lesions, types
from criteria.types import ScanKind, TimepointResult, fast_init

FAST = [
    cls for module in (types, lesions, endpoints) for cls in vars(module).values()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__
    and "update" in cls.__init__.__code__.co_names  # fast_init's: self.__dict__.update(...)
]


def _reference(cls: type[Any]) -> type[Any]:
    """The same fields as a plain frozen dataclass (the generated ``__init__``)."""
    specs: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            specs.append((f.name, Any, field(default=f.default)))
        elif f.default_factory is not dataclasses.MISSING:
            specs.append((f.name, Any, field(default_factory=f.default_factory)))
        else:
            specs.append((f.name, Any))
    return dataclasses.make_dataclass(f"Ref{cls.__name__}", specs, frozen=True)


def test_the_hot_classes_use_it() -> None:
    names = {cls.__name__ for cls in FAST}
    assert {"TimepointResult", "TargetMeasurement", "Timepoint", "CriterionResult",
            "SumAssessment", "NonTargetAssessment", "Best"} <= names


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_same_fields_defaults_and_signature_as_the_generated_init(cls: type[Any]) -> None:
    ref = _reference(cls)
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    values = {name: object() for name in required}
    built, expected = cls(**values), ref(**values)
    for f in dataclasses.fields(cls):
        assert getattr(built, f.name) == getattr(expected, f.name), f.name
    assert list(inspect.signature(cls).parameters) == [f.name for f in dataclasses.fields(cls)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, dataclasses.fields(cls)[0].name, 1)
    with pytest.raises(TypeError):
        cls(**values, not_a_field=1)
    if required:
        with pytest.raises(TypeError):
            cls()


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_every_argument_given_is_stored_over_the_defaults(cls: type[Any]) -> None:
    # the instance dict starts as a copy of the defaults: each argument given must replace its
    # entry, by position and by keyword, and the next instance must start from the defaults again
    names = [f.name for f in dataclasses.fields(cls)]
    values = [object() for _ in names]
    ref = _reference(cls)
    by_position, by_keyword = cls(*values), cls(**dict(zip(names, values, strict=True)))
    for name, value in zip(names, values, strict=True):
        assert getattr(by_position, name) is value and getattr(by_keyword, name) is value, name
    assert list(vars(by_position)) == names  # one entry per field, in field order
    required = {f.name: values[k] for k, f in enumerate(dataclasses.fields(cls))
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    again, expected = cls(**required), ref(**required)
    for name in names:
        assert getattr(again, name) == getattr(expected, name), name


def test_positional_keyword_factories_equality_and_hash() -> None:
    day = dt.date(2024, 3, 1)
    a = TimepointResult(day, "PR", "NON-CR/NON-PD", "NO", "PR", Decimal("40.0"))
    b = TimepointResult(date=day, target="PR", non_target="NON-CR/NON-PD", new_lesions="NO",
                        overall="PR", sum_mm=Decimal("40.0"))
    assert a == b and a.scan is ScanKind.SCHEDULED and a.why == ()
    assert a.extra == {} and a.extra is not b.extra  # a fresh dict each, as field(default_factory=dict)
    assert dataclasses.replace(a, overall="SD").overall == "SD"
    assert repr(a).startswith("TimepointResult(date=datetime.date(2024, 3, 1), target='PR'")
    pfs = types.Pfs(True, day, "PD")
    assert hash(pfs) == hash(types.Pfs(event=True, date=day, reason="PD"))


def test_refuses_what_it_cannot_reproduce() -> None:
    @dataclass
    class NotFrozen:
        x: int

    @dataclass(frozen=True)
    class PostInit:
        x: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True)
    class KwOnly:
        x: int = field(kw_only=True)

    for cls in (NotFrozen, PostInit, KwOnly):
        with pytest.raises(TypeError):
            fast_init(cls)
