"""The charter per criterion (issue 15 item 2): any criterion of the engine, the analyses, the
engine settings (read by the engine's own parser), the rules naming criteria per variable,
and the refusals: 4xx naming the field, nothing written."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from criteria.evaluate import AVAILABLE
from criteria.types import Settings
from trialreads.choices import AuditEventType
from trialreads.errors import ValidationError
from trialreads.models import AuditEvent, Charter
from trialreads.services import trials as svc
from trialreads.snapshot import settings_from_charter

pytestmark = pytest.mark.django_db


def _publish(trial: Any, manager: Any, **changes: Any) -> Charter:
    return svc.charter_publish(
        trial_id=trial.pk,
        changes=changes,
        effective_from=dt.date(2025, 6, 1),
        reason="amendment",
        actor=manager,
    )


def test_existing_charters_keep_their_meaning(trial: Any) -> None:
    charter = Charter.objects.get(trial=trial, is_current=True)
    assert charter.analyses == [] and charter.engine_settings == {}
    # No engine_settings: exactly the settings of the columns, as before the field existed.
    assert settings_from_charter(charter) == Settings(
        sd_min_days=42, confirm_min_days=28, irecist_confirm_window_days=(28, 56)
    )


def test_any_criterion_mixed_ct_and_pet_with_analyses_and_settings(manager: Any) -> None:
    trial = svc.trial_create(
        code="ALL-1",
        title="Every criterion",
        actor=manager,
        charter={
            "criteria": list(AVAILABLE),
            "primary_criterion": "irrc",
            "analyses": ["tgr", "pseudoprogression", "dissociated_response"],
            "engine_settings": {
                "ir_pd_date": "confirming",
                "hyperprogression_definitions": ["kato2017", "champiat2017"],
                "tgr_month_days": 30,
                "ipercist_confirm_window_days": [21, 63],
            },
            "adjudication_rules": {
                "variables": ["bor", "pd_date"],
                "criteria": {"bor": "irrc", "pd_date": ["irecist", "percist"]},
            },
        },
        effective_from=dt.date(2025, 1, 1),
    )
    charter = Charter.objects.get(trial=trial)
    assert charter.criteria == list(AVAILABLE) and charter.primary_criterion == "irrc"
    settings = settings_from_charter(charter)
    assert settings.ir_pd_date == "confirming"
    assert settings.hyperprogression_definitions == ("kato2017", "champiat2017")
    assert settings.tgr_month_days == Decimal(30)
    assert settings.ipercist_confirm_window_days == (21, 63)
    # The columns still set what they set.
    assert (settings.sd_min_days, settings.irecist_confirm_window_days) == (42, (28, 56))
    event = AuditEvent.objects.get(chain_id=trial.chain_id, event_type=AuditEventType.CHARTER_PUBLISHED)
    assert event.after["analyses"] == ["tgr", "pseudoprogression", "dissociated_response"]
    assert event.after["engine_settings"]["ir_pd_date"] == "confirming"


def test_publish_audits_the_new_fields_before_and_after(trial: Any, manager: Any) -> None:
    v2 = _publish(
        trial,
        manager,
        criteria=["recist1.1", "irecist", "irrecist"],
        analyses=["pseudoprogression"],
        engine_settings={"irrecist_pd_requires_5mm": False},
    )
    assert v2.version == 2 and v2.analyses == ["pseudoprogression"]
    assert settings_from_charter(v2).irrecist_pd_requires_5mm is False
    event = AuditEvent.objects.filter(event_type=AuditEventType.CHARTER_PUBLISHED, object_id=str(v2.pk)).get()
    assert event.before["analyses"] == [] and event.before["engine_settings"] == {}
    assert event.after["analyses"] == ["pseudoprogression"]
    assert event.after["engine_settings"] == {"irrecist_pd_requires_5mm": False}
    assert event.after["criteria"] == ["recist1.1", "irecist", "irrecist"]
    # engine_settings is replaced as a whole by the next version that sets it.
    v3 = _publish(trial, manager, engine_settings={})
    assert settings_from_charter(v3).irrecist_pd_requires_5mm is True


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"criteria": ["recist1.1", "who"]}, "criteria", "drawn from"),
        ({"criteria": []}, "criteria", "non-empty"),
        ({"criteria": ["irrc", "irrc"]}, "criteria", "duplicate"),
        ({"primary_criterion": "irrc"}, "primary_criterion", "charter's criteria"),
        ({"primary_criterion": "who"}, "primary_criterion", "one of"),
        ({"criteria": ["irrc"]}, "primary_criterion", "charter's criteria"),  # primary recist1.1 dropped
        ({"analyses": ["hpd"]}, "analyses", "drawn from"),
        ({"analyses": "tgr"}, "analyses", "drawn from"),
        ({"analyses": ["tgr", "tgr"]}, "analyses", "duplicate"),
        ({"engine_settings": ["ir_pd_date"]}, "engine_settings", "object"),
        ({"engine_settings": {"ir_pd_dat": "first"}}, "engine_settings.ir_pd_dat", "unknown field"),
        ({"engine_settings": {"ir_pd_date": "last"}}, "engine_settings.ir_pd_date", "'first', 'confirming'"),
        ({"engine_settings": {"ir_pd_date": 1}}, "engine_settings.ir_pd_date", "number 1"),
        (
            {"engine_settings": {"irrecist_pd_requires_5mm": "yes"}},
            "engine_settings.irrecist_pd_requires_5mm",
            "true or false",
        ),
        ({"engine_settings": {"ir_confirm_max_days": 8.5}}, "engine_settings.ir_confirm_max_days", "whole"),
        ({"engine_settings": {"ir_confirm_max_days": -1}}, "engine_settings.ir_confirm_max_days", "negative"),
        (
            {"engine_settings": {"ipercist_confirm_window_days": [56, 28]}},
            "engine_settings.ipercist_confirm_window_days",
            "low <= high",
        ),
        (
            {"engine_settings": {"hyperprogression_definitions": ["kato2017", "mine"]}},
            "engine_settings.hyperprogression_definitions[1]",
            "unknown definition",
        ),
        ({"engine_settings": {"tgr_month_days": 45}}, "engine_settings.tgr_month_days", "28 to 31"),
        (
            {"engine_settings": {"sd_min_days": 56}},
            "engine_settings.sd_min_days",
            "charter field sd_min_days",
        ),
        (
            {"engine_settings": {"irecist_confirm_window_days": [21, 63]}},
            "engine_settings.irecist_confirm_window_days",
            "irecist_window_min_days",
        ),
        # The rules may only name the charter's criteria (ONC-001: recist1.1, irecist, imrecist).
        (
            {"adjudication_rules": {"variables": ["bor"], "criteria": ["irrc"]}},
            "adjudication_rules.criteria[0]",
            "not one of the charter's criteria",
        ),
        (
            {"adjudication_rules": {"variables": ["bor", "pd_date"], "criteria": {"pd_date": "percist"}}},
            "adjudication_rules.criteria.pd_date",
            "not one of the charter's criteria",
        ),
        (
            {"adjudication_rules": {"variables": ["bor"], "criteria": {"bor": "who"}}},
            "adjudication_rules.criteria.bor",
            "unknown criteria",
        ),
        (
            {"adjudication_rules": {"variables": ["bor"], "criteria": {"pd_date": "irecist"}}},
            "adjudication_rules.criteria.pd_date",
            "not one of this charter's adjudication variables",
        ),
        # Dropping a criterion the current rules name is refused too.
        (
            {
                "criteria": ["recist1.1"],
                "adjudication_rules": {"variables": ["icpd_date"], "criteria": ["irecist"]},
            },
            "adjudication_rules.criteria[0]",
            "not one of the charter's criteria",
        ),
    ],
)
def test_publish_refusals_name_the_field_and_write_nothing(
    trial: Any, manager: Any, changes: dict[str, Any], field: str, words: str
) -> None:
    charters, events = Charter.objects.count(), AuditEvent.objects.count()
    with pytest.raises(ValidationError) as err:
        _publish(trial, manager, **changes)
    assert err.value.field == field
    assert words in err.value.errors[field][0]
    assert (Charter.objects.count(), AuditEvent.objects.count()) == (charters, events)
    assert Charter.objects.get(trial=trial, is_current=True).version == 1


def test_create_refusals_write_nothing(manager: Any) -> None:
    charters, events = Charter.objects.count(), AuditEvent.objects.count()
    for charter, field in (
        ({"criteria": ["recist1.1", "percist"], "primary_criterion": "ipercist"}, "primary_criterion"),
        ({"engine_settings": {"nope": 1}}, "engine_settings.nope"),
        (
            {
                "criteria": ["recist1.1"],
                "adjudication_rules": {"variables": ["bor"], "criteria": {"bor": "irrc"}},
            },
            "adjudication_rules.criteria.bor",
        ),
    ):
        with pytest.raises(ValidationError) as err:
            svc.trial_create(code="BAD-1", title="t", actor=manager, charter=charter)
        assert err.value.field == field
    assert (Charter.objects.count(), AuditEvent.objects.count()) == (charters, events)
