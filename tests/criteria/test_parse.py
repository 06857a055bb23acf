"""Parsing and validation of the contract's JSON: exact numbers, and one test per kind of bad input
(each asserting the subject, the field path and the message)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from criteria.errors import InputError
from criteria.parse import load_json, parse, parse_settings
from criteria.types import BaselineTarget, NonTargetStatus, ScanKind, Settings, Subject, TargetKind
from criteria.validate import Problem, organ_group, validate_baseline_targets

BASE: dict[str, Any] = {
    "subject": "S7",
    "reference_date": "2024-01-01",
    "baseline": {
        "date": "2024-01-01",
        "targets": [
            {"id": "T1", "organ": "liver", "node": False, "mm": 42},
            {"id": "T2", "organ": "lymph node", "node": True, "mm": 20},
            {"id": "T3", "organ": "lung", "node": False, "mm": 15.5},
        ],
        "non_targets": [{"id": "NT1", "organ": "bone", "node": False}],
    },
    "timepoints": [
        {"date": "2024-02-26", "scan": "scheduled", "targets": {"T1": 30, "T2": 12, "T3": 10},
         "non_targets": {"NT1": "present"}, "new_lesions": []},
        {"date": "2024-04-22", "targets": {"T1": 28, "T2": 9, "T3": "TSTM"},
         "non_targets": {"NT1": "present"}},
        {"date": "2024-06-17", "targets": {"T1": 35, "T2": 12, "T3": 10}, "non_targets": {"NT1": "present"}},
    ],
}


def subject_json(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


def parse_one(data: Any) -> Subject:
    result = parse(load_json(json.dumps(data)) if not isinstance(data, str) else data)
    assert isinstance(result, Subject)
    return result


def error(data: Any) -> InputError:
    with pytest.raises(InputError) as info:
        parse_one(data)
    return info.value


def assert_error(data: Any, field: str, fragment: str, subject: str = "S7") -> None:
    err = error(data)
    assert (err.subject, err.field) == (subject, field), str(err)
    assert fragment in err.message, str(err)


# --- valid input -------------------------------------------------------------------------------

def test_valid_measurement_level_subject() -> None:
    subject = parse_one(BASE)
    assert subject.subject == "S7" and not subject.response_level
    assert subject.baseline is not None
    assert subject.baseline.targets[2].mm == Decimal("15.5")
    tp = subject.timepoints[1]
    assert tp.targets["T3"].kind is TargetKind.TOO_SMALL and tp.targets["T3"].mm == Decimal(5)
    assert tp.non_targets["NT1"] is NonTargetStatus.PRESENT
    assert tp.scan is ScanKind.SCHEDULED
    assert subject.settings == Settings()


def test_numbers_are_exact_decimals() -> None:
    text = json.dumps(BASE).replace('"mm": 42', '"mm": 90')
    text = text.replace('"T1": 30', '"T1": 62.99999999999999999999')
    subject = parse_one(text)
    assert subject.baseline is not None
    assert subject.baseline.targets[0].mm == Decimal(90)
    assert subject.timepoints[0].targets["T1"].mm == Decimal("62.99999999999999999999")


def test_target_value_forms() -> None:
    data = subject_json()
    data["timepoints"][0]["targets"] = {"T1": {"fragments_mm": [15, 12.5]}, "T2": None,
                                        "T3": {"coalesced_into": "T1"}}
    data["timepoints"][1]["targets"] = {"T1": {"coalesced_with": ["T3"], "mm": 45},
                                        "T3": {"coalesced_into": "T1", "mm": 0}}
    subject = parse_one(data)
    first, second = subject.timepoints[0].targets, subject.timepoints[1].targets
    assert first["T1"].kind is TargetKind.SPLIT and first["T1"].mm == Decimal("27.5")
    assert first["T2"].kind is TargetKind.NOT_ASSESSED and first["T2"].mm is None
    assert first["T3"].kind is TargetKind.COALESCED_INTO and first["T3"].mm == 0
    assert second["T1"].coalesced_with == ("T3",) and second["T1"].mm == 45


def test_new_lesion_defaults_measurable_from_size() -> None:
    data = subject_json()
    data["timepoints"][0]["new_lesions"] = [
        {"id": "N1", "organ": "liver", "mm": 12},
        {"id": "N2", "organ": "neck", "node": True, "mm": 12},
        {"id": "N3", "organ": "liver", "mm": 8, "measurable": True, "equivocal": True},
    ]
    lesions = parse_one(data).timepoints[0].new_lesions
    assert [(n.measurable, n.equivocal) for n in lesions] == [(True, False), (False, False), (True, True)]


def test_response_level_and_scan_dates() -> None:
    data = {"subject": "R1", "reference_date": "2024-01-01",
            "timepoints": [{"date": "2024-02-12", "overall": "SD",
                            "scan_dates": ["2024-02-10", "2024-02-12"]},
                           {"date": "2024-03-25", "overall": "PD"}]}
    subject = parse_one(data)
    assert subject.response_level
    assert subject.timepoints[0].earliest_date == dt.date(2024, 2, 10)


def test_settings_all_fields() -> None:
    settings = parse_settings(load_json(json.dumps({
        "sd_min_days": 28, "confirm_min_days": 21, "max_ne_between_confirmation": 2,
        "accept_sd_between_pr_confirmation": True, "irecist_confirm_window_days": [28, 84],
        "imrecist_negation_min_days": 30, "irecist_unconfirmed_iupd": "censor",
        "imrecist_new_lesion_cap": "irrc", "cr_then_pr_confirmed_as": "pr", "pr_continues_until_pd": False})))
    assert settings == Settings(sd_min_days=28, confirm_min_days=21, max_ne_between_confirmation=2,
                                accept_sd_between_pr_confirmation=True, irecist_confirm_window_days=(28, 84),
                                imrecist_negation_min_days=30, irecist_unconfirmed_iupd="censor",
                                imrecist_new_lesion_cap="irrc", cr_then_pr_confirmed_as="pr",
                                pr_continues_until_pd=False)


def test_batch_keeps_order() -> None:
    other = subject_json(subject="S8")
    result = parse(load_json(json.dumps([BASE, other])))
    assert isinstance(result, list) and [s.subject for s in result] == ["S7", "S8"]


# --- bad input, one per case ----------------------------------------------------------------------

def with_tp_target(value: Any, lesion: str = "T3", index: int = 2) -> dict[str, Any]:
    data = subject_json()
    data["timepoints"][index]["targets"][lesion] = value
    return data


def test_negative_diameter() -> None:
    err = error(with_tp_target(-4))
    assert str(err) == "S7: timepoints[2].targets.T3: negative diameter -4"


def test_duplicate_key_rejected() -> None:
    text = json.dumps(BASE).replace('"T1": 35', '"T1": 35, "T1": 36')
    assert_error(text, "timepoints[2].targets.T1", "given more than once")


@pytest.mark.parametrize(("old", "new", "field"), [
    ('"subject": "S7"', '"subject": "S7", "subject": "S7"', "subject"),
    ('"reference_date": "2024-01-01"', '"reference_date": "2024-01-01", "reference_date": "2024-01-02"',
     "reference_date"),
    ('"id": "T2"', '"id": "T2", "mm": 21', "baseline.targets[1].mm"),
    ('"id": "NT1", "organ": "bone"', '"id": "NT1", "organ": "bone", "organ": "liver"',
     "baseline.non_targets[0].organ"),
    ('"date": "2024-01-01", "targets"', '"date": "2024-01-01", "date": "2024-01-01", "targets"',
     "baseline.date"),
    ('"date": "2024-04-22"', '"date": "2024-04-22", "date": "2024-04-23"', "timepoints[1].date"),
    ('"NT1": "present"}}]', '"NT1": "present", "NT1": "absent"}}]', "timepoints[2].non_targets.NT1"),
    ('"new_lesions": []', '"new_lesions": [{"id": "N1", "mm": 12, "mm": 13}]',
     "timepoints[0].new_lesions[0].mm"),
    ('"subject": "S7"', '"subject": "S7", "settings": {"sd_min_days": 1, "sd_min_days": 2}',
     "settings.sd_min_days"),
])
def test_a_key_given_twice_is_named_at_every_level(old: str, new: str, field: str) -> None:
    # a loaded object keeps its repeated keys (parse._Object); every other object is a plain dict
    text = json.dumps(BASE)
    assert text.count(old) == 1, old
    assert_error(text.replace(old, new), field, "given more than once")


def test_a_colon_inside_a_string_does_not_hide_a_key_given_twice() -> None:
    # load_json takes the objects json builds when they hold as many keys as the text has ':';
    # a ':' inside a string (here an organ) must not make up for a repeated key elsewhere
    text = json.dumps(BASE).replace('"organ": "bone"', '"organ": "bone: sacrum"')
    assert text.count(":") == json.dumps(BASE).count(":") + 1
    assert parse_one(text).baseline.non_targets[0].organ == "bone: sacrum"  # type: ignore[union-attr]
    assert_error(text.replace('"T1": 35', '"T1": 35, "T1": 36'), "timepoints[2].targets.T1",
                 "given more than once")


def test_loaded_objects_are_plain_dicts_unless_a_key_is_given_twice() -> None:
    plain = load_json('{"a": {"b": 1, "c": "x: y"}, "d": [{"e": 2}]}')
    assert type(plain) is dict and type(plain["a"]) is dict and type(plain["d"][0]) is dict
    assert plain == {"a": {"b": Decimal(1), "c": "x: y"}, "d": [{"e": Decimal(2)}]}
    repeated = load_json('{"a": {"b": 1, "b": 2}, "d": 3}')
    assert type(repeated) is dict and type(repeated["a"]) is not dict
    assert repeated["a"] == {"b": Decimal(2)} and repeated["a"].duplicates == ("b",)


def test_nan_rejected() -> None:
    text = json.dumps(BASE).replace('"T1": 35', '"T1": NaN')
    assert_error(text, "timepoints[2].targets.T1", "not a finite number")


def test_infinity_rejected() -> None:
    text = json.dumps(BASE).replace('"mm": 42', '"mm": Infinity')
    assert_error(text, "baseline.targets[0].mm", "not a finite number")


def test_boolean_where_number_expected() -> None:
    assert_error(with_tp_target(True), "timepoints[2].targets.T3", "boolean true")


def test_string_where_number_expected() -> None:
    assert_error(with_tp_target("10"), "timepoints[2].targets.T3", "string '10'")


def test_string_baseline_diameter() -> None:
    data = subject_json()
    data["baseline"]["targets"][0]["mm"] = "42"
    assert_error(data, "baseline.targets[0].mm", "expected a number")


def test_implausible_diameter() -> None:
    assert_error(with_tp_target(1000.1), "timepoints[2].targets.T3", "implausible diameter 1000.1")


def test_unknown_target_id_at_follow_up() -> None:
    assert_error(with_tp_target(10, lesion="T9"), "timepoints[2].targets.T9", "unknown target lesion T9")


def test_non_target_id_used_as_target() -> None:
    assert_error(with_tp_target(10, lesion="NT1"), "timepoints[2].targets.NT1", "a non-target id")


def test_unknown_non_target_id() -> None:
    data = subject_json()
    data["timepoints"][0]["non_targets"]["NT2"] = "present"
    assert_error(data, "timepoints[0].non_targets.NT2", "unknown non-target lesion NT2")


def test_dates_out_of_order() -> None:
    data = subject_json()
    data["timepoints"][2]["date"] = "2024-04-01"
    assert_error(data, "timepoints[2].date", "dates out of order")


def test_duplicate_timepoint_date() -> None:
    data = subject_json()
    data["timepoints"][1]["date"] = "2024-02-26"
    assert_error(data, "timepoints[1].date", "dates out of order")


def test_follow_up_before_baseline() -> None:
    data = subject_json()
    data["timepoints"][0]["date"] = "2023-12-01"
    assert_error(data, "timepoints[0].date", "not after the baseline date")


def test_invalid_iso_date() -> None:
    data = subject_json()
    data["timepoints"][1]["date"] = "2024-02-30"
    assert_error(data, "timepoints[1].date", "invalid date")


def test_partial_date() -> None:
    data = subject_json()
    data["timepoints"][1]["date"] = "2024-02"
    assert_error(data, "timepoints[1].date", "expected an ISO date")


def test_more_than_five_targets() -> None:
    data = subject_json()
    organs = ["liver", "lung", "adrenal", "spleen", "brain", "skin"]
    data["baseline"]["targets"] = [{"id": f"T{i}", "organ": o, "node": False, "mm": 20}
                                   for i, o in enumerate(organs, 1)]
    data["timepoints"] = []
    assert_error(data, "baseline.targets", "6 target lesions: at most 5")


def test_more_than_two_per_organ() -> None:
    data = subject_json()
    data["baseline"]["targets"][1] = {"id": "T2", "organ": "liver", "node": False, "mm": 20}
    data["baseline"]["targets"][2] = {"id": "T3", "organ": "liver", "node": False, "mm": 20}
    assert_error(data, "baseline.targets", "3 target lesions in organ 'liver'")


def test_paired_organs_count_as_one() -> None:
    data = subject_json()
    data["baseline"]["targets"] = [{"id": "T1", "organ": "left lung", "node": False, "mm": 20},
                                   {"id": "T2", "organ": "right lung", "node": False, "mm": 20},
                                   {"id": "T3", "organ": "lung", "node": False, "mm": 20}]
    assert_error(data, "baseline.targets", "organ 'lung'")


def test_all_nodes_are_one_organ() -> None:
    data = subject_json()
    data["baseline"]["targets"] = [{"id": "T1", "organ": "axilla", "node": True, "mm": 20},
                                   {"id": "T2", "organ": "mediastinum", "node": True, "mm": 20},
                                   {"id": "T3", "organ": "groin", "node": True, "mm": 20}]
    assert_error(data, "baseline.targets", "organ 'lymph node'")


def test_non_nodal_target_below_10mm() -> None:
    data = subject_json()
    data["baseline"]["targets"][2]["mm"] = 9.9
    assert_error(data, "baseline.targets[2].mm", "not measurable (needs >= 10 mm, R11-MEAS)")


def test_node_target_below_15mm() -> None:
    data = subject_json()
    data["baseline"]["targets"][1]["mm"] = 14.9
    assert_error(data, "baseline.targets[1].mm", "short axis 14.9 mm is not measurable")


def test_duplicate_target_ids() -> None:
    data = subject_json()
    data["baseline"]["targets"][2]["id"] = "T1"
    assert_error(data, "baseline.targets[2].id", "duplicate target id T1")


def test_non_target_id_collides_with_target() -> None:
    data = subject_json()
    data["baseline"]["non_targets"][0]["id"] = "T2"
    assert_error(data, "baseline.non_targets[0].id", "already a target lesion id")


def test_new_lesion_id_collides_with_baseline() -> None:
    data = subject_json()
    data["timepoints"][0]["new_lesions"] = [{"id": "NT1", "organ": "liver", "mm": 12}]
    assert_error(data, "timepoints[0].new_lesions[0].id", "new lesion id NT1 is a baseline lesion id")


def test_duplicate_new_lesion_ids() -> None:
    data = subject_json()
    data["timepoints"][0]["new_lesions"] = [{"id": "N1", "organ": "liver", "mm": 12},
                                            {"id": "N1", "organ": "lung", "mm": 12}]
    assert_error(data, "timepoints[0].new_lesions[1].id", "duplicate new lesion id N1")


def test_new_lesion_negative_size() -> None:
    data = subject_json()
    data["timepoints"][0]["new_lesions"] = [{"id": "N1", "organ": "liver", "mm": -1}]
    assert_error(data, "timepoints[0].new_lesions[0].mm", "negative diameter -1")


def test_unknown_scan_word() -> None:
    data = subject_json()
    data["timepoints"][0]["scan"] = "skipped"
    assert_error(data, "timepoints[0].scan", "unknown scan kind")


def test_unknown_non_target_status() -> None:
    data = subject_json()
    data["timepoints"][0]["non_targets"]["NT1"] = "gone"
    assert_error(data, "timepoints[0].non_targets.NT1", "unknown non-target status string 'gone'")


def test_unknown_settings_key() -> None:
    assert_error(subject_json(settings={"sd_minimum": 42}), "settings.sd_minimum", "unknown field")


def test_settings_wrong_types() -> None:
    assert_error(subject_json(settings={"sd_min_days": "42"}), "settings.sd_min_days", "expected a number")
    assert_error(subject_json(settings={"sd_min_days": True}), "settings.sd_min_days", "boolean")
    assert_error(subject_json(settings={"sd_min_days": 42.5}), "settings.sd_min_days", "whole number")
    assert_error(subject_json(settings={"confirm_min_days": -1}), "settings.confirm_min_days", "negative")
    assert_error(subject_json(settings={"accept_sd_between_pr_confirmation": 1}),
                 "settings.accept_sd_between_pr_confirmation", "true or false")
    assert_error(subject_json(settings={"irecist_confirm_window_days": [56, 28]}),
                 "settings.irecist_confirm_window_days", "low <= high")
    assert_error(subject_json(settings={"irecist_unconfirmed_iupd": "ignore"}),
                 "settings.irecist_unconfirmed_iupd", "'event', 'censor'")


def test_unknown_top_level_key_but_comments_allowed() -> None:
    assert_error(subject_json(non_target=[]), "non_target", "unknown field")
    assert parse_one(subject_json(_comment="kept out")).subject == "S7"


def test_missing_subject_id() -> None:
    data = subject_json()
    del data["subject"]
    assert_error(data, "subject", "missing or empty subject id", subject="?")


def test_missing_reference_date() -> None:
    data = subject_json()
    del data["reference_date"]
    assert_error(data, "reference_date", "missing")


def test_death_before_last_assessment() -> None:
    assert_error(subject_json(death_date="2024-05-01"), "death_date", "before the last assessment")


def test_response_level_unknown_code() -> None:
    data = {"subject": "R1", "reference_date": "2024-01-01",
            "timepoints": [{"date": "2024-02-12", "overall": "PRX"}]}
    assert_error(data, "timepoints[0].overall", "unknown response code 'PRX'", subject="R1")


def test_response_level_mixed_vocabularies() -> None:
    data = {"subject": "R1", "reference_date": "2024-01-01",
            "timepoints": [{"date": "2024-02-12", "overall": "NE"}, {"date": "2024-03-12", "overall": "iPR"},
                           {"date": "2024-04-12", "overall": "PD"}]}
    assert_error(data, "timepoints[2].overall", "mixes vocabularies", subject="R1")


def test_response_level_missing_overall() -> None:
    data = {"subject": "R1", "reference_date": "2024-01-01", "timepoints": [{"date": "2024-02-12"}]}
    assert_error(data, "timepoints[0].overall", "missing overall", subject="R1")


def test_response_level_before_reference_date() -> None:
    data = {"subject": "R1", "reference_date": "2024-01-01",
            "timepoints": [{"date": "2023-12-12", "overall": "SD"}]}
    assert_error(data, "timepoints[0].date", "before the reference_date", subject="R1")


def test_overall_with_a_baseline() -> None:
    data = subject_json()
    data["timepoints"][0]["overall"] = "PR"
    assert_error(data, "timepoints[0].overall", "response-level input")


def test_lesions_without_baseline() -> None:
    data = {"subject": "R1", "reference_date": "2024-01-01",
            "timepoints": [{"date": "2024-02-12", "overall": "SD", "targets": {"T1": 3}}]}
    assert_error(data, "timepoints[0].targets", "without a baseline", subject="R1")


def test_coalesced_with_unknown_lesion() -> None:
    assert_error(with_tp_target({"coalesced_with": ["T8"], "mm": 30}),
                 "timepoints[2].targets.T3.coalesced_with", "T8 is not another baseline target id")


def test_negative_fragment() -> None:
    assert_error(with_tp_target({"fragments_mm": [4, -2]}), "timepoints[2].targets.T3.fragments_mm[1]",
                 "negative diameter -2")


def test_bad_scan_dates() -> None:
    data = subject_json()
    data["timepoints"][0]["scan_dates"] = ["2024-02-25", "yesterday"]
    assert_error(data, "timepoints[0].scan_dates[1]", "expected an ISO date")


def test_batch_names_the_bad_subject() -> None:
    bad = subject_json(subject="S9")
    bad["timepoints"][0]["targets"]["T1"] = -1
    with pytest.raises(InputError) as info:
        parse(load_json(json.dumps([BASE, bad])))
    assert (info.value.subject, info.value.field) == ("S9", "timepoints[0].targets.T1")


def test_batch_subject_without_id_names_its_position() -> None:
    with pytest.raises(InputError) as info:
        parse(load_json(json.dumps([BASE, {"reference_date": "2024-01-01"}])))
    assert (info.value.subject, info.value.field) == ("?", "[1].subject")


def test_invalid_json_names_unknown_subject() -> None:
    with pytest.raises(InputError) as info:
        load_json('{"subject": "S1", ')
    assert info.value.subject == "?" and "invalid JSON" in info.value.message


# --- the validation functions are usable on typed values (Django app) ----------------------------

def test_validate_baseline_targets_on_types() -> None:
    targets = [BaselineTarget("T1", "Left Lung", False, Decimal(20)),
               BaselineTarget("T2", "right lung", False, Decimal(20)),
               BaselineTarget("T3", "lung", False, Decimal("9.5")),
               BaselineTarget("T1", "liver", False, Decimal(30))]
    problems = validate_baseline_targets(targets)
    assert Problem("baseline.targets[3].id", "duplicate target id T1") in problems
    assert any(p.field == "baseline.targets[2].mm" and "R11-MEAS" in p.message for p in problems)
    assert any(p.field == "baseline.targets" and "organ 'lung'" in p.message for p in problems)
    assert validate_baseline_targets(targets[:2]) == []


@pytest.mark.parametrize(("organ", "node", "group"), [
    ("Left Lung", False, "lung"), ("LUNG", False, "lung"), ("right kidney", False, "kidney"),
    ("ovary", False, "ovaries"), ("LYMPH NODE", False, "lymph node"), ("liver", True, "lymph node"),
    ("Liver", False, "liver"), ("ADRENAL GLAND", False, "adrenal gland"), ("renal cortex", False, "kidney"),
    # Any organ is one organ whatever its side or part (R11-TGT-SEL: "2 per organ").
    ("liver left lobe", False, "liver"), ("Left lobe of liver", False, "liver"),
    ("liver, segment VII", False, "liver"), ("LIVER SEGMENTS 4A", False, "liver"),
    ("adrenal gland, left", False, "adrenal gland"), ("right adrenal gland", False, "adrenal gland"),
    ("upper lobe of liver", False, "liver"),
    # ... but "upper"/"lower" inside a site name keep two sites apart.
    ("soft tissue of upper limb", False, "soft tissue upper limb"),
    ("soft tissue of lower limb", False, "soft tissue lower limb"),
])
def test_organ_group(organ: str, node: bool, group: str) -> None:
    assert organ_group(organ, node) == group


def test_three_targets_in_three_lobes_of_one_liver_break_the_two_per_organ_rule() -> None:
    targets = [BaselineTarget("T1", "liver left lobe", False, Decimal(20)),
               BaselineTarget("T2", "liver right lobe", False, Decimal(20)),
               BaselineTarget("T3", "liver, segment IV", False, Decimal(20))]
    problems = validate_baseline_targets(targets)
    assert any(p.field == "baseline.targets" and "organ 'liver'" in p.message for p in problems)
    assert validate_baseline_targets(targets[:2]) == []
