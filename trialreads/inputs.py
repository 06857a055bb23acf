"""What a reader submits for one timepoint read, as the services take it: the baseline
selection (:class:`TargetInput`, :class:`NonTargetInput`) and a follow-up
(:class:`TargetValueInput`, :class:`NewLesionInput`). Plain frozen values below every layer:
the API, the web form and the importers build them, :mod:`trialreads.validation` checks them
and ``services.reads`` stores them (and re-exports them, its callers' historical import).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trialreads.choices import MeasurementState

__all__ = ["NewLesionInput", "NonTargetInput", "TargetInput", "TargetValueInput"]


@dataclass(frozen=True)
class TargetInput:
    """A baseline target lesion: longest diameter (short axis for a node) in mm."""

    code: str
    organ: str
    value_mm: Decimal
    is_node: bool = False
    injected: bool = False
    #: The result text as collected, for a value transcribed from a source
    #: (``validation._Problems.check_diameter``).
    collected: str = ""


@dataclass(frozen=True)
class NonTargetInput:
    code: str
    organ: str
    is_node: bool = False
    injected: bool = False


@dataclass(frozen=True)
class TargetValueInput:
    """A baseline target's value at a follow-up (``state`` is a ``MeasurementState``)."""

    code: str
    state: str = MeasurementState.MEASURED
    value_mm: Decimal | None = None
    fragments_mm: tuple[Decimal, ...] = ()
    coalesced_with: tuple[str, ...] = ()
    coalesced_into: str = ""
    collected: str = ""


@dataclass(frozen=True)
class NewLesionInput:
    code: str
    organ: str
    value_mm: Decimal | None = None
    is_node: bool = False
    measurable: bool = True
    equivocal: bool = False
    collected: str = ""
