"""Serializers: shapes only. Input serializers check *types* (a diameter is a JSON number,
a flag is a JSON boolean, no unknown keys) and hand plain values to the services, which own
every clinical rule (ranges, decimals, RECIST limits, lesion identity) and report them with
the same field paths. Output serializers hide fields by role through :class:`Viewer`.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from criteria.types import PET_CRITERIA
from trialreads import access, validators
from trialreads.choices import LesionKind, MeasurementState, Modality, NonTargetStatus, PetReferenceSite
from trialreads.models import TimepointRead

from .parsers import NonFinite

MAX_LIST = 50


# --- strict scalar fields ------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.NUMBER)
class StrictDecimalField(serializers.Field):  # type: ignore[type-arg]
    """A JSON number (never a string or boolean), passed on as an exact ``Decimal``. The
    range, sign and precision rules are the services' (one place, one message)."""

    default_error_messages = {
        "invalid": "must be a JSON number of millimetres",
        "finite": "must be a finite number (NaN and Infinity are not JSON numbers)",
    }

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, NonFinite):
            self.fail("finite")
        if isinstance(data, bool) or not isinstance(data, int | Decimal):
            self.fail("invalid")
        return data if isinstance(data, Decimal) else Decimal(data)

    def to_representation(self, value: Any) -> Any:
        return value


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (never a string, boolean, fraction or exponent) within bounds. DRF's own
    ``IntegerField`` takes ``"٣"`` (``int()`` reads Unicode digits), ``"3"`` and ``3.0``, and
    an unbounded id reached the database as an overflow (a 500)."""

    default_error_messages = {"invalid": "must be a JSON integer"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", validators.ID_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(data)


class StrictBooleanField(serializers.BooleanField):
    """``true``/``false`` only: ``"yes"``, ``1`` or ``"true"`` are type errors here."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictCharField(serializers.CharField):
    """A JSON string, not trimmed (the services judge whitespace and characters)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("max_length", 200)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictDateField(serializers.DateField):
    """A calendar date written ``YYYY-MM-DD`` exactly. Python's ``fromisoformat`` (which
    Django's ``parse_date`` tries first) also accepts ``2025-W19``, ``20250510`` and
    ``2025-130``: week and ordinal dates are refused here, as are partial dates and datetimes."""

    _FORMAT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", re.ASCII)

    default_error_messages = {"bounds": "must be between {minimum} and {maximum}"}

    def to_internal_value(self, value: Any) -> dt.date:
        if not isinstance(value, str) or not self._FORMAT.match(value):
            self.fail("invalid", format="YYYY-MM-DD")
        parsed: dt.date = super().to_internal_value(value)
        if validators.date_error(parsed):
            self.fail("bounds", minimum=validators.DATE_MIN, maximum=validators.DATE_MAX)
        return parsed


class StrictSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Unknown keys are refused, so that ``reader_id``, ``status``, ``signed_by`` or a
    ``unit`` sent by a client is an error rather than silently ignored (T-AUTHZ-ESCALATE)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["unknown field"] for key in unknown})
        return super().to_internal_value(data)


class StrictNumberField(StrictDecimalField):
    """A JSON number that is not a length (a SUL, a TLG, minutes): as :class:`StrictDecimalField`."""

    default_error_messages = {**StrictDecimalField.default_error_messages, "invalid": "must be a JSON number"}


def _lesion_code() -> StrictCharField:
    return StrictCharField(max_length=200)


def _optional_mm(help_text: str) -> StrictDecimalField:
    return StrictDecimalField(required=False, allow_null=True, default=None, help_text=help_text)


PERP_HELP = "Bidimensional criteria (irRC): a non-nodal lesion's perpendicular diameter, mm (<= value_mm)."
LONG_HELP = "Bidimensional criteria (irRC): a node's long axis, mm (>= value_mm, the short axis)."


# --- inputs: baseline -------------------------------------------------------------------------


class BaselineTargetIn(StrictSerializer):
    code = _lesion_code()
    organ = StrictCharField()
    value_mm = StrictDecimalField(help_text="Longest diameter (short axis for a node), mm, 0.1 mm steps.")
    is_node = StrictBooleanField(default=False)
    injected = StrictBooleanField(
        default=False, help_text="itRECIST: the lesion is injected (only when the charter names itrecist)."
    )
    perp_mm = _optional_mm(PERP_HELP)
    long_mm = _optional_mm(LONG_HELP)


class BaselineNonTargetIn(StrictSerializer):
    code = _lesion_code()
    organ = StrictCharField()
    is_node = StrictBooleanField(default=False)
    injected = StrictBooleanField(
        default=False, help_text="itRECIST: the lesion is injected (only when the charter names itrecist)."
    )


class BaselineIn(StrictSerializer):
    targets: serializers.ListField = serializers.ListField(
        child=BaselineTargetIn(), max_length=MAX_LIST
    )
    non_targets: serializers.ListField = serializers.ListField(
        child=BaselineNonTargetIn(), max_length=MAX_LIST, required=False, default=list
    )


# --- inputs: follow-up ------------------------------------------------------------------------


class FollowupTargetIn(StrictSerializer):
    code = _lesion_code()
    state = serializers.ChoiceField(choices=MeasurementState.choices, default=MeasurementState.MEASURED)
    value_mm = StrictDecimalField(required=False, allow_null=True, default=None)
    fragments_mm = serializers.ListField(
        child=StrictDecimalField(), max_length=10, required=False, default=list
    )
    coalesced_with = serializers.ListField(child=_lesion_code(), max_length=10, required=False, default=list)
    coalesced_into = StrictCharField(max_length=200, allow_blank=True, required=False, default="")
    perp_mm = _optional_mm(PERP_HELP)
    long_mm = _optional_mm(LONG_HELP)
    fragments_perp_mm = serializers.ListField(
        child=StrictDecimalField(),
        max_length=10,
        required=False,
        default=list,
        help_text="A split lesion's fragments' perpendicular diameters (irRC), in fragments_mm order.",
    )


class FollowupNonTargetIn(StrictSerializer):
    code = _lesion_code()
    status = serializers.ChoiceField(choices=NonTargetStatus.choices)


class NewLesionIn(StrictSerializer):
    code = _lesion_code()
    organ = StrictCharField()
    value_mm = StrictDecimalField(required=False, allow_null=True, default=None)
    is_node = StrictBooleanField(default=False)
    measurable = StrictBooleanField(default=True)
    equivocal = StrictBooleanField(default=False)
    perp_mm = _optional_mm(PERP_HELP)
    long_mm = _optional_mm(LONG_HELP)


class FollowupIn(StrictSerializer):
    targets: serializers.ListField = serializers.ListField(
        child=FollowupTargetIn(), max_length=MAX_LIST
    )
    non_targets: serializers.ListField = serializers.ListField(
        child=FollowupNonTargetIn(), max_length=MAX_LIST, required=False, default=list
    )
    new_lesions: serializers.ListField = serializers.ListField(
        child=NewLesionIn(), max_length=MAX_LIST, required=False, default=list
    )
    injected: serializers.ListField = serializers.ListField(
        child=_lesion_code(),
        max_length=MAX_LIST,
        required=False,
        default=list,
        help_text="itRECIST: the codes of the baseline lesions first injected at this timepoint.",
    )

    def validate_non_targets(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # The service takes a code -> status mapping; a repeated code would silently collapse.
        seen: set[str] = set()
        errors: list[dict[str, list[str]]] = []
        for item in value:
            errors.append({"code": [f"duplicate lesion code {item['code']}"]} if item["code"] in seen else {})
            seen.add(item["code"])
        if any(errors):
            raise serializers.ValidationError(errors)
        return value


# --- inputs: PET scan, pre-baseline scan ------------------------------------------------------------


class PetLesionIn(StrictSerializer):
    code = _lesion_code()
    organ = StrictCharField()
    sul_peak = StrictNumberField(help_text="SULpeak (SUV normalised to lean body mass), 4 decimals at most.")
    sul_max = StrictNumberField(required=False, allow_null=True, default=None)
    tlg = StrictNumberField(
        required=False, allow_null=True, default=None, help_text="Total lesion glycolysis (3 decimals)."
    )
    value_mm = _optional_mm("The lesion's CT size in mm, where measured (PERCIMT).")


class PetScanIn(StrictSerializer):
    reference_site = serializers.ChoiceField(
        choices=PetReferenceSite.choices,
        allow_blank=True,
        default="",
        help_text="The reference region (liver, or the blood pool when the liver is abnormal); "
        "empty only for a scan not done.",
    )
    reference_mean = StrictNumberField(required=False, allow_null=True, default=None)
    reference_sd = StrictNumberField(required=False, allow_null=True, default=None)
    uptake_min = StrictNumberField(
        required=False, allow_null=True, default=None, help_text="Uptake time, minutes (0.1 min steps)."
    )
    lesions: serializers.ListField = serializers.ListField(
        child=PetLesionIn(), max_length=MAX_LIST, required=False, default=list
    )
    unequivocal_progression = StrictBooleanField(default=False)
    not_done = StrictBooleanField(
        default=False, help_text="The scan was not done or is not evaluable (then no values)."
    )


class PrebaselineTargetIn(StrictSerializer):
    code = _lesion_code()
    state = serializers.ChoiceField(
        choices=MeasurementState.choices,
        default=MeasurementState.MEASURED,
        help_text="MEASURED or NOT_ASSESSED on a pre-baseline scan.",
    )
    value_mm = StrictDecimalField(required=False, allow_null=True, default=None)


class PrebaselineIn(StrictSerializer):
    targets: serializers.ListField = serializers.ListField(
        child=PrebaselineTargetIn(),
        max_length=MAX_LIST,
        required=False,
        default=list,
        help_text="Every baseline target's value on the pre-baseline scan (or give sum_mm only).",
    )
    sum_mm = _optional_mm("The sum of the baseline targets' diameters, when only the sum is known.")


# --- inputs: signing, unlocking, timepoints ---------------------------------------------------------


class SignIn(StrictSerializer):
    password = StrictCharField(write_only=True, max_length=200, style={"input_type": "password"})
    printed_name = StrictCharField(max_length=200)
    meaning = StrictCharField(max_length=300, allow_blank=True, required=False, default="")


class UnlockIn(StrictSerializer):
    reason = StrictCharField(max_length=2000)


class TimepointIn(StrictSerializer):
    visit_label = StrictCharField(max_length=40)
    visit_number = StrictDecimalField()
    scan_date_earliest = StrictDateField()
    scan_date_latest = StrictDateField(required=False, allow_null=True, default=None)
    is_baseline = StrictBooleanField(default=False)
    modality = serializers.ChoiceField(choices=Modality.choices, default=Modality.CT)
    is_prebaseline = StrictBooleanField(
        default=False,
        help_text="A scan before the baseline (tumour growth rate), added once the baseline exists.",
    )


def _subject_date() -> StrictDateField:
    return StrictDateField(required=False, allow_null=True)


class SubjectIn(StrictSerializer):
    """A new subject with its dates from the trial (issue 18 item 3)."""

    site_code = StrictCharField(max_length=40)
    subject_code = StrictCharField(max_length=40)
    randomisation_date = StrictDateField()
    death_date = _subject_date()
    last_contact_date = _subject_date()
    first_dose_date = _subject_date()
    reference_start_date = _subject_date()


class SubjectUpdateIn(StrictSerializer):
    """Subject dates recorded later (``null`` clears one); the fields sent are the change."""

    reason = StrictCharField(max_length=2000)
    death_date = _subject_date()
    last_contact_date = _subject_date()
    first_dose_date = _subject_date()
    reference_start_date = _subject_date()


# --- outputs ------------------------------------------------------------------------------------------


def viewer_of(serializer: serializers.BaseSerializer) -> access.Viewer:  # type: ignore[type-arg]
    viewer = serializer.context.get("viewer")
    if viewer is None:
        viewer = access.Viewer.load(serializer.context["request"].user)
        serializer.context["viewer"] = viewer
    return viewer


class TrialOut(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    code = serializers.CharField()
    title = serializers.CharField()
    created_at = serializers.DateTimeField()
    my_role = serializers.SerializerMethodField()

    def get_my_role(self, obj: Any) -> str | None:
        return viewer_of(self).roles.get(obj.pk)


class CharterOut(serializers.Serializer):  # type: ignore[type-arg]
    version = serializers.IntegerField()
    is_current = serializers.BooleanField()
    criteria = serializers.ListField(child=serializers.CharField())
    primary_criterion = serializers.CharField()
    sd_min_days = serializers.IntegerField()
    confirm_min_days = serializers.IntegerField()
    confirmation_required = serializers.BooleanField()
    irecist_window_min_days = serializers.IntegerField()
    irecist_window_max_days = serializers.IntegerField()
    adjudication_rules = serializers.DictField()
    read_paradigm = serializers.CharField()
    analyses = serializers.ListField(
        child=serializers.CharField(), help_text="Growth-family analyses computed with the endpoints."
    )
    engine_settings = serializers.DictField(
        help_text="Overrides of the engine's settings (criteria.types.Settings fields)."
    )
    date_imputation = serializers.CharField(help_text="Rule for partial scan dates: first/mid/last/nominal.")
    epoch_rule = serializers.CharField(help_text="The sponsor's epochs for SDTM EPOCH (empty: none given).")
    effective_from = serializers.DateField()
    created_at = serializers.DateTimeField()


class MembershipOut(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    role = serializers.CharField()
    reader_label = serializers.CharField()
    created_at = serializers.DateTimeField()


SUBJECT_DATES_HELP = "The trial's subject date; only for the read manager and the sponsor, otherwise null."


class SubjectOut(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    trial_id = serializers.IntegerField()
    site_code = serializers.CharField(source="site.code")
    subject_code = serializers.CharField()
    randomisation_date = serializers.DateField()
    arm = serializers.SerializerMethodField(help_text="Only for roles that may see the arm; otherwise null.")
    death_date = serializers.SerializerMethodField(help_text=SUBJECT_DATES_HELP)
    last_contact_date = serializers.SerializerMethodField(help_text=SUBJECT_DATES_HELP)
    first_dose_date = serializers.SerializerMethodField(help_text=SUBJECT_DATES_HELP)
    reference_start_date = serializers.SerializerMethodField(help_text=SUBJECT_DATES_HELP)

    def get_arm(self, obj: Any) -> str | None:
        # Blinding: the arm is read only when access allows it (the selector defers it otherwise).
        return obj.arm if viewer_of(self).sees_arm(obj.trial_id) else None

    def _date(self, obj: Any, name: str) -> str | None:
        viewer = viewer_of(self)
        if not (viewer.can(obj.trial_id, access.MANAGE) or viewer.can(obj.trial_id, access.EXPORT)):
            return None
        value = getattr(obj, name)
        return value.isoformat() if value is not None else None

    @extend_schema_field({"type": "string", "format": "date", "nullable": True})
    def get_death_date(self, obj: Any) -> str | None:
        return self._date(obj, "death_date")

    @extend_schema_field({"type": "string", "format": "date", "nullable": True})
    def get_last_contact_date(self, obj: Any) -> str | None:
        return self._date(obj, "last_contact_date")

    @extend_schema_field({"type": "string", "format": "date", "nullable": True})
    def get_first_dose_date(self, obj: Any) -> str | None:
        return self._date(obj, "first_dose_date")

    @extend_schema_field({"type": "string", "format": "date", "nullable": True})
    def get_reference_start_date(self, obj: Any) -> str | None:
        return self._date(obj, "reference_start_date")



class TimepointOut(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    subject_id = serializers.IntegerField()
    visit_label = serializers.CharField()
    visit_number = serializers.DecimalField(max_digits=6, decimal_places=1)
    sequence = serializers.IntegerField()
    modality = serializers.CharField()
    scan_date_earliest = serializers.DateField()
    scan_date_latest = serializers.DateField()
    is_baseline = serializers.BooleanField()
    is_prebaseline = serializers.BooleanField()


class ReadOut(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    subject_id = serializers.IntegerField()
    subject_code = serializers.CharField(source="subject.subject_code")
    trial_id = serializers.IntegerField(source="subject.trial_id")
    status = serializers.CharField()
    slot = serializers.SerializerMethodField()
    reader = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def _identified(self, obj: Any) -> bool:
        return viewer_of(self).sees_reader_identity(obj.subject.trial_id, obj.reader_id)

    def get_slot(self, obj: Any) -> int | None:
        return obj.slot if self._identified(obj) else None

    def get_reader(self, obj: Any) -> str | None:
        return obj.reader.username if self._identified(obj) else None


class TimepointReadSummaryOut(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    read_id = serializers.IntegerField()
    timepoint = TimepointOut()
    form = serializers.SerializerMethodField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    locked = serializers.BooleanField()
    saved_at = serializers.DateTimeField(allow_null=True)
    content_sha256 = serializers.CharField()

    def get_form(self, obj: TimepointRead) -> str:
        if obj.timepoint.is_baseline:
            return "baseline"
        return "prebaseline" if obj.timepoint.is_prebaseline else "followup"


class SignatureOut(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    printed_name = serializers.SerializerMethodField()
    meaning = serializers.CharField()
    signed_at = serializers.DateTimeField()
    content_sha256 = serializers.CharField()
    voided_at = serializers.DateTimeField(allow_null=True)
    void_reason = serializers.CharField()

    def get_printed_name(self, obj: Any) -> str | None:
        tr = self.context["timepoint_read"]
        visible = viewer_of(self).sees_reader_identity(tr.read.subject.trial_id, tr.read.reader_id)
        return obj.printed_name if visible else None


class BaselineTargetOut(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    organ = serializers.CharField()
    value_mm = StrictDecimalField(allow_null=True)
    is_node = serializers.BooleanField()
    injected = serializers.BooleanField()
    perp_mm = StrictDecimalField(allow_null=True)
    long_mm = StrictDecimalField(allow_null=True)


class BaselineNonTargetOut(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    organ = serializers.CharField()
    is_node = serializers.BooleanField()
    injected = serializers.BooleanField()


class BaselineContentOut(serializers.Serializer):  # type: ignore[type-arg]
    targets = BaselineTargetOut(many=True)
    non_targets = BaselineNonTargetOut(many=True)


class FollowupTargetOut(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    state = serializers.CharField()
    value_mm = StrictDecimalField(allow_null=True)
    fragments_mm = serializers.ListField(child=StrictDecimalField())
    coalesced_with = serializers.ListField(child=serializers.CharField())
    coalesced_into = serializers.CharField()
    perp_mm = StrictDecimalField(allow_null=True)
    long_mm = StrictDecimalField(allow_null=True)
    fragments_perp_mm = serializers.ListField(child=StrictDecimalField())


class FollowupNonTargetOut(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    status = serializers.CharField()


class NewLesionOut(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    organ = serializers.CharField()
    value_mm = StrictDecimalField(allow_null=True)
    is_node = serializers.BooleanField()
    measurable = serializers.BooleanField()
    equivocal = serializers.BooleanField()
    perp_mm = StrictDecimalField(allow_null=True)
    long_mm = StrictDecimalField(allow_null=True)


class FollowupContentOut(serializers.Serializer):  # type: ignore[type-arg]
    targets = FollowupTargetOut(many=True)
    non_targets = FollowupNonTargetOut(many=True)
    new_lesions = NewLesionOut(many=True)
    injected = serializers.ListField(child=serializers.CharField())


class PetLesionOut(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    organ = serializers.CharField()
    sul_peak = StrictNumberField()
    sul_max = StrictNumberField(allow_null=True)
    tlg = StrictNumberField(allow_null=True)
    value_mm = StrictDecimalField(allow_null=True)


class PetContentOut(serializers.Serializer):  # type: ignore[type-arg]
    reference_site = serializers.CharField()
    reference_mean = StrictNumberField(allow_null=True)
    reference_sd = StrictNumberField(allow_null=True)
    uptake_min = StrictNumberField(allow_null=True)
    lesions = PetLesionOut(many=True)
    unequivocal_progression = serializers.BooleanField()
    not_done = serializers.BooleanField()


class PrebaselineTargetOut(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField()
    state = serializers.CharField()
    value_mm = StrictDecimalField(allow_null=True)


class PrebaselineContentOut(serializers.Serializer):  # type: ignore[type-arg]
    targets = PrebaselineTargetOut(many=True)
    sum_mm = StrictDecimalField(allow_null=True)


def baseline_content(tr: TimepointRead) -> dict[str, Any]:
    """The stored baseline in the PUT shape (so GET -> edit -> PUT round-trips)."""
    targets = [
        {
            "code": m.lesion.lesion_code,
            "organ": m.lesion.organ,
            "value_mm": m.value_mm,
            "is_node": m.lesion.is_node,
            "injected": m.lesion.injected,
            "perp_mm": m.perp_mm,
            "long_mm": m.long_mm,
        }
        for m in tr.measurements.all()
        if m.lesion.kind == LesionKind.TARGET
    ]
    non_targets = [
        {
            "code": r.lesion.lesion_code,
            "organ": r.lesion.organ,
            "is_node": r.lesion.is_node,
            "injected": r.lesion.injected,
        }
        for r in tr.ratings.all()
        if r.lesion.kind == LesionKind.NON_TARGET
    ]
    return {
        "targets": sorted(targets, key=lambda d: d["code"]),
        "non_targets": sorted(non_targets, key=lambda d: d["code"]),
    }


def followup_content(tr: TimepointRead) -> dict[str, Any]:
    """The stored follow-up in the PUT shape."""
    targets, new_lesions = [], []
    injected = {r.lesion.lesion_code for r in tr.ratings.all() if r.newly_injected}
    for m in tr.measurements.all():
        if m.newly_injected:
            injected.add(m.lesion.lesion_code)
        if m.lesion.kind == LesionKind.TARGET:
            targets.append(
                {
                    "code": m.lesion.lesion_code,
                    "state": m.state,
                    # Too-small-to-measure is stored as 5 mm but entered without a value.
                    "value_mm": None if m.state == MeasurementState.TOO_SMALL else m.value_mm,
                    "fragments_mm": [Decimal(str(f)) for f in m.fragments_mm],
                    "coalesced_with": list(m.coalesced_with),
                    "coalesced_into": m.coalesced_into,
                    "perp_mm": m.perp_mm,
                    "long_mm": m.long_mm,
                    "fragments_perp_mm": [Decimal(str(f)) for f in m.fragments_perp_mm],
                }
            )
            if m.state == MeasurementState.SPLIT:
                targets[-1]["value_mm"] = None
        elif m.lesion.kind == LesionKind.NEW:
            new_lesions.append(
                {
                    "code": m.lesion.lesion_code,
                    "organ": m.lesion.organ,
                    "value_mm": m.value_mm,
                    "is_node": m.lesion.is_node,
                    "measurable": m.lesion.measurable,
                    "equivocal": m.equivocal,
                    "perp_mm": m.perp_mm,
                    "long_mm": m.long_mm,
                }
            )
    non_targets = [
        {"code": r.lesion.lesion_code, "status": r.status}
        for r in tr.ratings.all()
        if r.lesion.kind == LesionKind.NON_TARGET
    ]
    return {
        "targets": sorted(targets, key=lambda d: d["code"]),
        "non_targets": sorted(non_targets, key=lambda d: d["code"]),
        "new_lesions": sorted(new_lesions, key=lambda d: d["code"]),
        "injected": sorted(injected),
    }


def pet_content(tr: TimepointRead) -> dict[str, Any]:
    """The stored PET scan in the PUT shape (empty values when none was saved)."""
    lesions = [
        {
            "code": m.lesion.lesion_code,
            "organ": m.lesion.organ,
            "sul_peak": m.sul_peak,
            "sul_max": m.sul_max,
            "tlg": m.tlg,
            "value_mm": m.value_mm,
        }
        for m in tr.measurements.all()
        if m.lesion.kind == LesionKind.PET
    ]
    return {
        "reference_site": tr.pet_reference_site,
        "reference_mean": tr.pet_reference_mean,
        "reference_sd": tr.pet_reference_sd,
        "uptake_min": tr.pet_uptake_min,
        "lesions": sorted(lesions, key=lambda d: d["code"]),
        "unequivocal_progression": tr.pet_unequivocal_progression,
        "not_done": tr.pet_not_done,
    }


def prebaseline_content(tr: TimepointRead) -> dict[str, Any]:
    """The stored pre-baseline scan in the PUT shape."""
    targets = [
        {"code": m.lesion.lesion_code, "state": m.state, "value_mm": m.value_mm}
        for m in tr.measurements.all()
        if m.lesion.kind == LesionKind.TARGET
    ]
    return {"targets": sorted(targets, key=lambda d: d["code"]), "sum_mm": tr.prebaseline_sum_mm}


def takes_pet(tr: TimepointRead, criteria: Any) -> bool:
    """Whether the timepoint read has a PET form: a PET/CT scan (not a pre-baseline one) of a
    trial whose charter names a PET criterion (``.../pet/`` accepts it)."""
    return (
        tr.timepoint.modality == Modality.PET_CT
        and not tr.timepoint.is_prebaseline
        and any(c in PET_CRITERIA for c in criteria or ())
    )


class TimepointReadOut(TimepointReadSummaryOut):
    baseline = serializers.SerializerMethodField()
    followup = serializers.SerializerMethodField()
    pet = serializers.SerializerMethodField(
        help_text="A PET/CT timepoint's PET scan (PERCIST family), in the shape PUT .../pet/ takes; "
        "null for another modality or a charter naming no PET criterion."
    )
    prebaseline = serializers.SerializerMethodField(
        help_text="A pre-baseline scan's values (tumour growth rate); null for any other timepoint."
    )
    signatures = serializers.SerializerMethodField()
    responses = serializers.SerializerMethodField(
        help_text="Per criterion: the engine's response at this timepoint for this read, with the "
        "sentences behind it (null before the baseline is saved)."
    )

    @extend_schema_field(BaselineContentOut(allow_null=True))
    def get_baseline(self, obj: TimepointRead) -> dict[str, Any] | None:
        return BaselineContentOut(baseline_content(obj)).data if obj.timepoint.is_baseline else None

    @extend_schema_field(FollowupContentOut(allow_null=True))
    def get_followup(self, obj: TimepointRead) -> dict[str, Any] | None:
        if obj.timepoint.is_baseline or obj.timepoint.is_prebaseline:
            return None
        return FollowupContentOut(followup_content(obj)).data

    @extend_schema_field(PetContentOut(allow_null=True))
    def get_pet(self, obj: TimepointRead) -> dict[str, Any] | None:
        return PetContentOut(pet_content(obj)).data if takes_pet(obj, self.context.get("criteria")) else None

    @extend_schema_field(PrebaselineContentOut(allow_null=True))
    def get_prebaseline(self, obj: TimepointRead) -> dict[str, Any] | None:
        return PrebaselineContentOut(prebaseline_content(obj)).data if obj.timepoint.is_prebaseline else None

    @extend_schema_field(SignatureOut(many=True))
    def get_signatures(self, obj: TimepointRead) -> Any:
        context = {**self.context, "timepoint_read": obj}
        return SignatureOut(obj.signatures.all(), many=True, context=context).data

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": {}})
    def get_responses(self, obj: TimepointRead) -> dict[str, Any] | None:
        responses: dict[str, Any] | None = self.context.get("responses")
        return responses


class VerificationOut(serializers.Serializer):  # type: ignore[type-arg]
    signed = serializers.BooleanField()
    valid = serializers.BooleanField()
    signature_sha256 = serializers.CharField(allow_null=True)
    content_sha256 = serializers.CharField()


class EvaluationOut(serializers.Serializer):  # type: ignore[type-arg]
    read_id = serializers.IntegerField()
    charter_version = serializers.IntegerField(allow_null=True)
    signed_only = serializers.BooleanField()
    result = serializers.DictField(allow_null=True, help_text="criteria engine output with explanations")
    not_evaluable = serializers.DictField(
        child=serializers.CharField(),
        help_text="Charter criteria this read cannot be evaluated under (criterion -> the engine's "
        "message: an input the criterion needs is not recorded).",
    )
    error = serializers.CharField(
        help_text="Why the engine could not evaluate the read as saved under any of the charter's "
        "criteria (then result is null), e.g. a charter version that added a criterion whose inputs "
        "are missing; empty otherwise."
    )


class AuditEventOut(serializers.Serializer):  # type: ignore[type-arg]
    seq = serializers.IntegerField()
    ts = serializers.DateTimeField()
    actor_id = serializers.IntegerField(allow_null=True)
    actor_username = serializers.CharField()
    event_type = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    reason = serializers.CharField()
    request_id = serializers.CharField()
    hash = serializers.CharField()


class TokenIn(StrictSerializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=200, write_only=True, style={"input_type": "password"})


class TokenOut(serializers.Serializer):  # type: ignore[type-arg]
    token = serializers.CharField()
    expiry = serializers.DateTimeField(help_text="When the token stops working (UTC).")


class DetailOut(serializers.Serializer):  # type: ignore[type-arg]
    detail = serializers.CharField()
