"""XPT v5 / FDA TCG validator: every limit caught, every exact limit accepted (reliability §10.8)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest

from trialreads.exports.spec import Dataset, Value, Variable, char, date_num, num, parse_format
from trialreads.exports.validate import Problem, check_all, validate_dataset
from trialreads.exports.xpt import ieee_to_ibm


def dataset(
    *,
    name: str = "RS",
    label: str = "Disease Response",
    variables: tuple[Variable, ...] | None = None,
    rows: list[dict[str, Value]] | None = None,
) -> Dataset:
    variables = variables or (char("USUBJID", "Unique Subject Identifier"), num("RSSEQ", "Sequence Number"))
    return Dataset(name, label, variables, rows if rows is not None else [{"USUBJID": "S-1", "RSSEQ": 1}])


def codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


def test_conformant_dataset_has_no_problems() -> None:
    assert validate_dataset(dataset(), "rs.xpt") == []


def test_41_character_variable_label_is_caught() -> None:
    problems = validate_dataset(dataset(variables=(char("USUBJID", "L" * 41),), rows=[{"USUBJID": "S"}]))
    assert codes(problems) == ["VAR_LABEL"]
    assert problems[0].variable == "USUBJID"
    assert "41 characters" in problems[0].message


def test_41_character_dataset_label_is_caught() -> None:
    assert codes(validate_dataset(dataset(label="D" * 41))) == ["DS_LABEL"]


def test_201_byte_value_is_caught_with_its_row() -> None:
    rows: list[dict[str, Value]] = [{"USUBJID": "S-1", "RSSEQ": 1}, {"USUBJID": "A" * 201, "RSSEQ": 2}]
    problems = validate_dataset(dataset(rows=rows))
    assert codes(problems) == ["CHAR_LENGTH"]
    assert (problems[0].dataset, problems[0].variable, problems[0].row) == ("RS", "USUBJID", 2)
    assert str(problems[0]) == "RS.USUBJID row 2: [CHAR_LENGTH] value is 201 bytes (max 200)"


def test_length_is_counted_in_bytes_not_characters() -> None:
    # 101 two-byte characters: under 200 characters but 202 bytes (and not ASCII either).
    problems = validate_dataset(dataset(rows=[{"USUBJID": "é" * 101, "RSSEQ": 1}]))
    assert sorted(codes(problems)) == ["CHAR_ASCII", "CHAR_LENGTH"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Müller", "CHAR_ASCII"),
        ("tab\there", "CHAR_ASCII"),
        ("line\nbreak", "CHAR_ASCII"),
        ("x ", "CHAR_TRAILING_BLANK"),
    ],
)
def test_values_that_would_not_survive_transport(text: str, code: str) -> None:
    assert codes(validate_dataset(dataset(rows=[{"USUBJID": text, "RSSEQ": 1}]))) == [code]


def test_non_ascii_label_is_caught() -> None:
    variables = (char("USUBJID", "Größe"),)
    assert codes(validate_dataset(dataset(variables=variables, rows=[{"USUBJID": "S"}]))) == ["VAR_LABEL"]


@pytest.mark.parametrize("name", ["rs", "1RS", "_RS", "RS-1", "TOOLONGDS", "", "RSÉ"])
def test_bad_dataset_names(name: str) -> None:
    assert "DS_NAME" in codes(validate_dataset(dataset(name=name)))


@pytest.mark.parametrize("name", ["usubjid", "9VAR", "VAR-1", "NINECHARS", "", "A B"])
def test_bad_variable_names(name: str) -> None:
    problems = validate_dataset(dataset(variables=(char(name, "Label"),), rows=[{name: "S"}]))
    assert codes(problems) == ["VAR_NAME"]


def test_duplicate_variable_names_case_insensitively() -> None:
    variables = (char("USUBJID", "a"), num("RSSEQ", "b"), char("RSSEQ", "c"))
    problems = validate_dataset(dataset(variables=variables))
    assert "VAR_DUPLICATE" in codes(problems)


def test_dataset_name_must_equal_file_name() -> None:
    assert codes(validate_dataset(dataset(), "tr.xpt")) == ["DS_FILE"]
    assert codes(validate_dataset(dataset(), "RS.xpt")) == ["DS_FILE"]
    assert validate_dataset(dataset(), "/tmp/out/rs.xpt") == []


def test_exact_limits_are_accepted() -> None:
    variables = (char("ABCDEFG_", "L" * 40), num("Z1234567", "N" * 40))
    rows: list[dict[str, Value]] = [
        {"ABCDEFG_": "~" * 200, "Z1234567": 7.2e75},
        {"ABCDEFG_": " x", "Z1234567": 0},
    ]
    assert validate_dataset(dataset(name="ABCDEFGH", label="D" * 40, variables=variables, rows=rows)) == []


def test_empty_label_is_caught() -> None:
    assert codes(validate_dataset(dataset(variables=(char("A", ""),), rows=[{"A": "x"}]))) == ["VAR_LABEL"]


def test_rows_must_match_variables() -> None:
    problems = validate_dataset(dataset(rows=[{"USUBJID": "S", "EXTRA": 1}]))
    assert sorted(codes(problems)) == ["ROW_EXTRA", "ROW_MISSING"]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("12", "NUM_TYPE"),
        (True, "NUM_TYPE"),
        (dt.datetime(2024, 1, 1, 0, 0), "NUM_TYPE"),
        (math.nan, "NUM_RANGE"),
        (math.inf, "NUM_RANGE"),
        (1e80, "NUM_RANGE"),
        (1e-300, "NUM_RANGE"),
        (dt.date(2024, 1, 1), "NUM_DATE_FORMAT"),
    ],
)
def test_bad_numeric_values(value: Value, code: str) -> None:
    assert codes(validate_dataset(dataset(rows=[{"USUBJID": "S", "RSSEQ": value}]))) == [code]


def test_good_numeric_values() -> None:
    variables = (num("N", "Number"), date_num("ADT", "Analysis Date"))
    rows: list[dict[str, Value]] = [
        {"N": Decimal("12.5"), "ADT": dt.date(2024, 1, 1)},
        {"N": None, "ADT": None},
        {"N": -3, "ADT": dt.date(1900, 1, 1)},
    ]
    assert validate_dataset(dataset(variables=variables, rows=rows)) == []


def test_character_variable_rejects_numbers() -> None:
    assert codes(validate_dataset(dataset(rows=[{"USUBJID": 12, "RSSEQ": 1}]))) == ["CHAR_TYPE"]


def test_format_references() -> None:
    assert parse_format("DATE9.") is not None and parse_format("DATE9.").name == "DATE"  # type: ignore[union-attr]
    assert parse_format("8.2") == parse_format("8.2")
    fmt = parse_format("E8601DA10.")
    assert fmt is not None and (fmt.name, fmt.width, fmt.decimals) == ("E8601DA", 10, 0)
    assert parse_format("DATE9") is None  # the trailing dot is required
    bad = (Variable("N", "Number", "num", "not a format"),)
    assert codes(validate_dataset(dataset(variables=bad, rows=[{"N": 1}]))) == ["VAR_FORMAT"]
    char_on_num = (Variable("N", "Number", "num", "$CHAR8."),)
    assert codes(validate_dataset(dataset(variables=char_on_num, rows=[{"N": 1}]))) == ["VAR_FORMAT"]


def test_all_blank_row_of_all_character_dataset_is_caught() -> None:
    # XPORT pads the last record with blanks; ReadStat drops trailing blank rows as padding.
    ds = dataset(
        variables=(char("A", "a"), char("B", "b")), rows=[{"A": "x", "B": None}, {"A": "", "B": None}]
    )
    problems = validate_dataset(ds)
    assert codes(problems) == ["ROW_BLANK"] and problems[0].row == 2


def test_all_problems_reported_at_once() -> None:
    ds = Dataset(
        "bad",
        "L" * 41,
        (char("usubjid", "x" * 41), char("OK", "fine")),
        [{"usubjid": "é", "OK": "A" * 201}],
    )
    assert sorted(codes(validate_dataset(ds, "other.xpt"))) == [
        "CHAR_ASCII",
        "CHAR_LENGTH",
        "DS_FILE",
        "DS_LABEL",
        "DS_NAME",
        "VAR_LABEL",
        "VAR_NAME",
    ]


def test_check_all_names_the_file_after_the_dataset() -> None:
    assert check_all([dataset()]) == []


@pytest.mark.parametrize(
    "value", [2.0**252, math.nextafter(2.0**252, 0.0), 2.0**-260, math.nextafter(2.0**-260, 0.0), 10**400]
)
def test_validator_and_writer_agree_at_the_ibm_range_edges(value: float) -> None:
    ds = dataset(rows=[{"USUBJID": "S", "RSSEQ": value}])
    problems = validate_dataset(ds)
    try:
        ieee_to_ibm(float(value))
        writable = True
    except (ValueError, OverflowError):
        writable = False
    assert (problems == []) == writable


def test_dataset_without_variables_is_caught() -> None:
    assert codes(validate_dataset(Dataset("RS", "Disease Response", (), []))) == ["DS_VARIABLES"]
