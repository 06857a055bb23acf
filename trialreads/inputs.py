"""What a reader submits for one timepoint read, as the services take it: the baseline
selection (:class:`TargetInput`, :class:`NonTargetInput`) and a follow-up
(:class:`TargetValueInput`, :class:`NewLesionInput`), a PET scan (:class:`PetScanInput`) and
a pre-baseline scan (:class:`PrebaselineInput`). Plain frozen values below every layer:
the API, the web form and the importers build them, :mod:`trialreads.validation` checks them
and ``services.reads`` stores them (and re-exports them, its callers' historical import).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trialreads.choices import MeasurementState

__all__ = [
    "NewLesionInput",
    "NonTargetInput",
    "PetLesionInput",
    "PetScanInput",
    "PrebaselineInput",
    "TargetInput",
    "TargetValueInput",
]


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
    #: Bidimensional criteria (irRC): the perpendicular diameter (non-nodal lesion, <=
    #: ``value_mm``) or, for a node, the long axis (>= ``value_mm``, the short axis).
    perp_mm: Decimal | None = None
    long_mm: Decimal | None = None


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
    perp_mm: Decimal | None = None
    long_mm: Decimal | None = None
    fragments_perp_mm: tuple[Decimal, ...] = ()


@dataclass(frozen=True)
class NewLesionInput:
    code: str
    organ: str
    value_mm: Decimal | None = None
    is_node: bool = False
    measurable: bool = True
    equivocal: bool = False
    collected: str = ""
    perp_mm: Decimal | None = None
    long_mm: Decimal | None = None


@dataclass(frozen=True)
class PetLesionInput:
    """A lesion on a PET scan (PERCIST family): SULpeak (SUV normalised to lean body mass),
    SULmax and TLG where recorded, and its CT size in mm where measured (PERCIMT)."""

    code: str
    organ: str
    sul_peak: Decimal
    sul_max: Decimal | None = None
    tlg: Decimal | None = None
    value_mm: Decimal | None = None


@dataclass(frozen=True)
class PetScanInput:
    """A timepoint's PET scan: the reference region (liver, or blood pool when the liver is
    abnormal) mean and SD, the uptake time in minutes, the lesions, the reader's unequivocal
    progression; ``not_done`` for a scan not done or not evaluable (no values then)."""

    reference_site: str = ""
    reference_mean: Decimal | None = None
    reference_sd: Decimal | None = None
    uptake_min: Decimal | None = None
    lesions: tuple[PetLesionInput, ...] = ()
    unequivocal_progression: bool = False
    not_done: bool = False


@dataclass(frozen=True)
class PrebaselineInput:
    """A pre-baseline scan (tumour growth rate): every baseline target's value (``targets``,
    state MEASURED or NOT_ASSESSED) or, when only the sum is known, ``sum_mm``; not both."""

    targets: tuple[TargetValueInput, ...] = ()
    sum_mm: Decimal | None = None
