"""Reader metrics against published worked examples and a hand-computed synthetic trial.

No database: ``trialreads.reader_metrics`` is pure Python.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from trialreads.reader_metrics import (
    NO_BOR,
    ProgressionPair,
    Rate,
    SubjectPair,
    adjudication_rate,
    adjudicator_agreement_rate,
    bor_kappa,
    cohen_kappa,
    cohen_kappa_table,
    confusion_table,
    discrepancy_rates,
    median_abs_pd_date_difference,
    monthly_drift,
    reader_disagreement_index,
    summarise,
)

D = dt.date


# --- Cohen's kappa: published worked examples ------------------------------------------------

def test_kappa_sas_skin_condition_example() -> None:
    """SAS/STAT User's Guide, PROC FREQ, "Getting Started: Agreement Study" (Table 3.2, skin
    condition data: two dermatologists, 88 patients, terrible/poor/marginal/clear). Published
    "Simple Kappa Coefficient" output: Kappa 0.3449, ASE 0.0724, 95% confidence limits
    0.2030 to 0.4868. SAS's ASE is the Fleiss, Cohen & Everitt (1969) large-sample SE."""
    table = [
        [10, 4, 1, 0],
        [5, 10, 12, 2],
        [2, 4, 12, 5],
        [0, 2, 6, 13],
    ]
    k = cohen_kappa_table(table, ["terrible", "poor", "marginal", "clear"])
    assert k.n == 88
    assert k.po == pytest.approx(45 / 88)
    assert round(k.kappa, 4) == 0.3449
    assert round(k.se, 4) == 0.0724
    assert round(k.ci_low, 4) == 0.2030
    assert round(k.ci_high, 4) == 0.4868


def test_kappa_two_by_two_fleiss_paik_example() -> None:
    """statpsych ``ci.kappa`` reference example (Bonett; formulas from Fleiss, Levin & Paik
    2003): f00=31, f01=12, f10=4, f11=58 -> Cohen kappa 0.6756757, SE 0.07344761,
    95% CI 0.5317210 to 0.8196303."""
    k = cohen_kappa_table([[31, 12], [4, 58]])
    assert k.kappa == pytest.approx(0.6756757, abs=5e-8)
    assert k.se == pytest.approx(0.07344761, abs=5e-9)
    assert k.ci_low == pytest.approx(0.5317210, abs=5e-8)
    assert k.ci_high == pytest.approx(0.8196303, abs=5e-8)


def test_kappa_perfect_agreement_has_zero_se() -> None:
    k = cohen_kappa([("PR", "PR"), ("SD", "SD"), ("PD", "PD")])
    assert k.kappa == pytest.approx(1.0)
    assert k.se == pytest.approx(0.0, abs=1e-12)


def test_kappa_undefined_cases() -> None:
    assert cohen_kappa([]).kappa is None
    one_category = cohen_kappa([("SD", "SD"), ("SD", "SD")])
    assert one_category.kappa is None and one_category.po == 1.0 and one_category.pe == 1.0


def test_kappa_input_checks() -> None:
    with pytest.raises(ValueError, match="square"):
        cohen_kappa_table([[1, 2]])
    with pytest.raises(ValueError, match="outside"):
        confusion_table([("PR", "XX")], ["PR", "SD"])
    cats, table = confusion_table([("PR", "SD"), ("SD", "SD")], ["CR", "PR", "SD"])
    assert cats == ("CR", "PR", "SD") and table == [[0, 0, 0], [0, 0, 1], [0, 0, 1]]


# --- a small synthetic trial, every number by hand --------------------------------------------
#
# subject readers(slot1,slot2) compared     adjudicated chosen  BOR        first PD dates
# S1      R1,R2                2026-01-10   no          -       PR / PR    03-01 / 03-05  (4 d)
# S2      R1,R2                2026-01-20   yes         1 (R1)  PR / SD    -     / 02-10
# S3      R2,R1                2026-02-05   yes         1 (R2)  SD / PD    04-01 / 03-01  (31 d)
# S4      R1,R3                2026-03-15   yes, open   -       CR / PR    -     / -
# S5      R3,R2                2026-03-20   no          -       SD / SD    05-10 / 05-10  (0 d)
# S6      R2,R3                2026-03-25   yes         2 (R3)  PD / PD    02-01 / 02-20  (19 d)

TRIAL = [
    SubjectPair("S1", ("R1", "R2"), D(2026, 1, 10), False, None, ("PR", "PR"),
                (D(2026, 3, 1), D(2026, 3, 5))),
    SubjectPair("S2", ("R1", "R2"), D(2026, 1, 20), True, 1, ("PR", "SD"), (None, D(2026, 2, 10))),
    SubjectPair("S3", ("R2", "R1"), D(2026, 2, 5), True, 1, ("SD", "PD"), (D(2026, 4, 1), D(2026, 3, 1))),
    SubjectPair("S4", ("R1", "R3"), D(2026, 3, 15), True, None, ("CR", "PR"), (None, None)),
    SubjectPair("S5", ("R3", "R2"), D(2026, 3, 20), False, None, ("SD", "SD"),
                (D(2026, 5, 10), D(2026, 5, 10))),
    SubjectPair("S6", ("R2", "R3"), D(2026, 3, 25), True, 2, ("PD", "PD"), (D(2026, 2, 1), D(2026, 2, 20))),
]
CATS = ("CR", "PR", "SD", "PD")


def test_adjudication_rate() -> None:
    assert adjudication_rate(TRIAL) == Rate(4, 6)
    assert adjudication_rate([]).value is None


@pytest.mark.parametrize(
    ("reader", "agreement", "disagreement"),
    [
        # R1: decided S2 (won), S3 (lost); read S1-S4.
        ("R1", Rate(1, 2), Rate(1, 4)),
        # R2: decided S2 (lost), S3 (won), S6 (lost); read S1, S2, S3, S5, S6.
        ("R2", Rate(1, 3), Rate(2, 5)),
        # R3: decided S6 (won); read S4, S5, S6 (S4 still open: neither won nor lost).
        ("R3", Rate(1, 1), Rate(0, 3)),
    ],
)
def test_per_reader_rates(reader: str, agreement: Rate, disagreement: Rate) -> None:
    assert adjudicator_agreement_rate(TRIAL, reader) == agreement
    assert reader_disagreement_index(TRIAL, reader) == disagreement


def test_trial_kappa_by_hand() -> None:
    # Agreements S1, S5, S6: po = 3/6. Slot-1 margins CR 1, PR 2, SD 2, PD 1; slot-2 margins
    # CR 0, PR 2, SD 2, PD 2: pe = (0 + 4 + 4 + 2)/36 = 10/36. kappa = (18-10)/(36-10) = 4/13.
    k = bor_kappa(TRIAL, categories=CATS)
    assert k.po == pytest.approx(0.5)
    assert k.pe == pytest.approx(10 / 36)
    assert k.kappa == pytest.approx(4 / 13)
    # Cohen (1960): sqrt(po(1-po) / (n (1-pe)^2)) = 0.5 / (sqrt(6) * 26/36).
    assert k.se_cohen1960 == pytest.approx(0.5 / (math.sqrt(6) * 26 / 36))
    assert k.ci_low < k.kappa < k.ci_high


def test_reader_kappa_orients_pairs_to_the_reader() -> None:
    # R3 vs other: S4 (PR vs CR), S5 (SD vs SD), S6 (PD vs PD): po = 2/3; R3 margins PR, SD, PD;
    # other margins CR, SD, PD: pe = 2/9; kappa = (6/9 - 2/9)/(7/9) = 4/7.
    k = bor_kappa(TRIAL, reader="R3", categories=CATS)
    assert k.n == 3
    assert k.kappa == pytest.approx(4 / 7)


def test_missing_bor_is_its_own_category() -> None:
    pairs = [
        SubjectPair("X", ("R1", "R2"), D(2026, 1, 1), bor=(None, "SD")),
        SubjectPair("Y", ("R1", "R2"), D(2026, 1, 1), bor=("SD", "SD")),
    ]
    k = bor_kappa(pairs, categories=CATS)
    assert NO_BOR in k.categories and k.n == 2 and k.po == 0.5


def test_median_abs_pd_date_difference() -> None:
    # Both reads progressed on S1 (4), S3 (31), S5 (0), S6 (19): median of 0, 4, 19, 31 = 11.5.
    assert median_abs_pd_date_difference(TRIAL) == 11.5
    assert median_abs_pd_date_difference(TRIAL, "R1") == 17.5  # S1 4, S3 31
    assert median_abs_pd_date_difference(TRIAL, "R3") == 9.5  # S5 0, S6 19
    assert median_abs_pd_date_difference(TRIAL[3:4]) is None


def test_monthly_drift_trial() -> None:
    drift = monthly_drift(TRIAL)
    assert [(b.month, b.compared, b.adjudication_rate) for b in drift] == [
        ("2026-01", 2, Rate(1, 2)),
        ("2026-02", 1, Rate(1, 1)),
        ("2026-03", 3, Rate(2, 3)),
    ]


def test_monthly_drift_reader_and_empty_month() -> None:
    drift = monthly_drift(TRIAL, "R1")
    assert [(b.month, b.adjudicator_agreement_rate, b.reader_disagreement_index) for b in drift] == [
        ("2026-01", Rate(1, 1), Rate(0, 2)),  # S1, S2 (won)
        ("2026-02", Rate(0, 1), Rate(1, 1)),  # S3 (lost)
        ("2026-03", Rate(0, 0), Rate(0, 1)),  # S4 open
    ]
    gap = monthly_drift([TRIAL[0], TRIAL[3]])
    assert [(b.month, b.compared) for b in gap] == [("2026-01", 1), ("2026-02", 0), ("2026-03", 1)]
    assert gap[1].adjudication_rate.value is None
    assert monthly_drift([]) == []


def test_monthly_drift_crosses_a_year() -> None:
    pairs = [
        SubjectPair("A", ("R1", "R2"), D(2025, 12, 31)),
        SubjectPair("B", ("R1", "R2"), D(2026, 1, 1), adjudicated=True),
    ]
    assert [b.month for b in monthly_drift(pairs)] == ["2025-12", "2026-01"]


def test_summary_collects_everything() -> None:
    s = summarise(TRIAL, CATS)
    assert s.compared == 6 and s.adjudication_rate == Rate(4, 6)
    assert [r.reader for r in s.readers] == ["R1", "R2", "R3"]
    r2 = s.readers[1]
    assert (r2.subjects_read, r2.adjudicated) == (5, 3)
    assert r2.reader_disagreement_index == Rate(2, 5)
    assert s.kappa.kappa == pytest.approx(4 / 13)


def test_subject_pair_validation() -> None:
    with pytest.raises(ValueError):
        SubjectPair("X", ("R1", "R2"), D(2026, 1, 1), adjudicated=False, chosen=1)
    with pytest.raises(ValueError):
        SubjectPair("X", ("R1", "R1"), D(2026, 1, 1))
    with pytest.raises(ValueError):
        SubjectPair("X", ("R1", "R2"), D(2026, 1, 1), adjudicated=True, chosen=3)


# --- investigator vs central: EDR / LDR (Amit et al. 2011) -----------------------------------

SITE_VS_CENTRAL = [
    ProgressionPair(1, D(2026, 1, 1), D(2026, 1, 1)),    # a1
    ProgressionPair(2, D(2026, 2, 1), D(2026, 1, 1)),    # a2: investigator later
    ProgressionPair(3, D(2026, 1, 1), D(2026, 3, 1)),    # a3: investigator earlier
    ProgressionPair(4, D(2026, 1, 5), D(2026, 3, 1)),    # a3
    ProgressionPair(5, D(2026, 1, 1), None),             # b
    ProgressionPair(6, D(2026, 2, 1), None),             # b
    ProgressionPair(7, None, D(2026, 2, 1)),             # c
    ProgressionPair(8, None, None),                      # d
    ProgressionPair(9, None, None),                      # d
    ProgressionPair(10, D(2026, 5, 1), D(2026, 5, 4)),   # a1 within 7 days, else a3
]


def test_edr_ldr_with_tolerance() -> None:
    r = discrepancy_rates(SITE_VS_CENTRAL, tolerance_days=7)
    assert (r.a1, r.a2, r.a3, r.b, r.c, r.d) == (2, 1, 2, 2, 1, 2)
    # EDR = (b + a3)/(a + b) = (2 + 2)/(5 + 2); LDR = (c + a2)/(b + c + a2 + a3) = 2/6.
    assert r.edr == Rate(4, 7)
    assert r.ldr == Rate(2, 6)


def test_edr_ldr_same_date_only() -> None:
    r = discrepancy_rates(SITE_VS_CENTRAL)
    assert (r.a1, r.a3) == (1, 3)
    assert r.edr == Rate(5, 7)
    assert r.ldr == Rate(2, 7)
    assert r.as_json()["edr"] == {"numerator": 5, "denominator": 7, "value": 5 / 7}


def test_edr_ldr_no_data() -> None:
    r = discrepancy_rates([])
    assert r.edr.value is None and r.ldr.value is None
    with pytest.raises(ValueError):
        discrepancy_rates([], tolerance_days=-1)
