"""Every criterion on the pages (issue 15 item 5): the subject page shows each criterion of a
multi-criterion charter side by side with its numbers and explanation; a reader sees only
their own read; the plots page draws each criterion family's own quantity (target sum, irRC
tumour burden, PERCIST SULpeak) with a criterion selector. Data through the services."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from tests.conftest import make_subject_with_reads
from tests.factories import PASSWORD
from trialreads.choices import Modality, TrialRole
from trialreads.models import Read, TimepointRead, Trial
from trialreads.services import endpoints as endpoint_services
from trialreads.services import reads as read_services
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"

CT_CRITERIA = ["recist1.1", "irrc", "irrecist", "itrecist"]
PET_CRITERIA = ["percist", "ipercist", "impercist5", "percimt"]

#: Baseline (code, organ, diameter, second diameter, node): T1 injected (itRECIST).
#: Products 40x30 + 30x20 + 20x25 = 2300 mm², diameters 90 mm.
BASELINE = (("T1", "liver", "40", "30", False), ("T2", "left lung", "30", "20", False),
            ("T3", "mediastinal lymph node", "20", "25", True))  # fmt: skip
#: Week 6, two readings: A: 600 + 300 + 270 = 1170 mm² (-49.1 %, irSD), 65 mm (-27.8 %, SD);
#: B: 375 + 150 + 120 = 645 mm² (-72.0 %, irPR), 50 mm (-44.4 %, PR).
WEEK6_A = (("30", "20"), ("20", "15"), ("15", "18"))
WEEK6_B = (("25", "15"), ("15", "10"), ("10", "12"))


def _trial(code: str, charter: dict[str, Any], users: dict[str, Any]) -> Trial:
    trial = trial_services.trial_create(
        code=code, title=code, actor=users["manager"], charter=charter, effective_from=dt.date(2025, 1, 1)
    )
    roles = {"reader_a": TrialRole.READER, "reader_b": TrialRole.READER}
    roles |= {"adjudicator": TrialRole.ADJUDICATOR, "sponsor": TrialRole.SPONSOR_VIEWER}
    for name, role in roles.items():
        trial_services.membership_add(
            trial_id=trial.pk, user_id=users[name].pk, role=role, actor=users["manager"]
        )
    return trial


def _sign(tr: TimepointRead, actor: Any) -> None:
    read_services.timepoint_read_sign(
        timepoint_read_id=tr.pk, password=PASSWORD, printed_name=actor.get_full_name(), actor=actor
    )


def _fresh(read: Read, index: int) -> TimepointRead:
    return TimepointRead.objects.filter(read=read).order_by("timepoint__sequence")[index]


def _second(node: bool, mm: str) -> dict[str, Decimal | None]:
    """The second diameter: perpendicular (non-nodal lesion) or long axis (node)."""
    return {"perp_mm": None if node else Decimal(mm), "long_mm": Decimal(mm) if node else None}


def _ct_read(read: Read, actor: Any, week6: tuple[tuple[str, str], ...]) -> None:
    """Baseline and week 6 of a bidimensional read, saved and signed."""
    tr = _fresh(read, 0)
    targets = tuple(
        read_services.TargetInput(
            code=c, organ=o, value_mm=Decimal(mm), is_node=node, injected=c == "T1", **_second(node, two)
        )
        for c, o, mm, two, node in BASELINE
    )
    read_services.timepoint_read_save_baseline(
        timepoint_read_id=tr.pk,
        targets=targets,
        non_targets=(read_services.NonTargetInput(code="NT1", organ="bone"),),
        expected_version=tr.version,
        actor=actor,
    )
    _sign(tr, actor)
    tr = _fresh(read, 1)
    values = tuple(
        read_services.TargetValueInput(code=c, value_mm=Decimal(mm), **_second(node, two))
        for (c, _o, _mm, _two, node), (mm, two) in zip(BASELINE, week6, strict=True)
    )
    read_services.timepoint_read_save_followup(
        timepoint_read_id=tr.pk,
        targets=values,
        non_targets={"NT1": "present"},
        new_lesions=(),
        expected_version=tr.version,
        actor=actor,
    )
    _sign(tr, actor)


def _ct_trial(users: dict[str, Any]) -> tuple[Trial, Any, Any]:
    """CT-BIDI (RECIST 1.1, irRC, irRECIST, itRECIST): S-101 read alike by both readers
    (accepted by rule), S-102 read differently (adjudication open); endpoints computed."""
    charter = {
        "criteria": CT_CRITERIA,
        "sd_min_days": 35,  # week 6 is day 37 after randomisation
        "adjudication_rules": {"variables": ["bor"], "bor_confirmed": False},
        "analyses": ["tgr"],  # pre-baseline scans feed the tumour growth rate
    }
    trial = _trial("CT-BIDI", charter, users)
    readers = (users["reader_a"], users["reader_b"])
    alike = make_subject_with_reads(trial, users["manager"], readers, code="S-101", followups=1)
    apart = make_subject_with_reads(trial, users["manager"], readers, code="S-102", followups=1)
    for case, b_values in ((alike, WEEK6_A), (apart, WEEK6_B)):
        _ct_read(case.read_a, users["reader_a"], WEEK6_A)
        _ct_read(case.read_b, users["reader_b"], b_values)
    endpoint_services.endpoints_compute(trial_id=trial.pk)
    return trial, alike, apart


#: PET scans (code, organ, SULpeak) at baseline, week 8, week 16: liver reference 2.0.
PET_SCANS = (
    (("L1", "lung", "8.0"), ("L2", "liver", "5.0")),
    (("L1", "lung", "5.2"), ("L2", "liver", "1.9")),  # hottest -35 %: PMR
    (("L1", "lung", "11.0"), ("L2", "liver", "4.0")),  # +37.5 %: PMD (iPERCIST UPMD)
)


def _pet_trial(users: dict[str, Any]) -> tuple[Trial, Any]:
    trial = _trial("PET-ARM", {"criteria": PET_CRITERIA, "primary_criterion": "percist"}, users)
    manager = users["manager"]
    site = trial_services.site_create(trial_id=trial.pk, code="S1", actor=manager)
    subject = trial_services.subject_create(
        trial_id=trial.pk,
        site_id=site.pk,
        subject_code="P-001",
        randomisation_date=dt.date(2025, 1, 10),
        actor=manager,
    )
    for i in range(3):
        trial_services.timepoint_create(
            subject_id=subject.pk,
            visit_label="BASELINE" if i == 0 else f"WEEK{8 * i}",
            visit_number=i,
            scan_date_earliest=dt.date(2025, 1, 8) + dt.timedelta(weeks=8 * i),
            is_baseline=i == 0,
            modality=Modality.PET_CT,
            actor=manager,
        )
    reads = trial_services.reads_assign(
        subject_id=subject.pk, reader_ids=[users["reader_a"].pk, users["reader_b"].pk], actor=manager
    )
    for read, reader in zip(reads, (users["reader_a"], users["reader_b"]), strict=True):
        for i, lesions in enumerate(PET_SCANS):
            tr = _fresh(read, i)
            scan = read_services.PetScanInput(
                reference_site="liver",
                reference_mean=Decimal("2.0"),
                reference_sd=Decimal("0.3"),
                uptake_min=Decimal(60),
                lesions=tuple(
                    read_services.PetLesionInput(code=c, organ=o, sul_peak=Decimal(sul))
                    for c, o, sul in lesions
                ),
            )
            read_services.timepoint_read_save_pet(
                timepoint_read_id=tr.pk, scan=scan, expected_version=tr.version, actor=reader
            )
            _sign(tr, reader)
    endpoint_services.endpoints_compute(trial_id=trial.pk)
    return trial, subject


@pytest.fixture
def users(
    manager: Any, reader_a: Any, reader_b: Any, adjudicator: Any, sponsor: Any, outsider: Any
) -> dict[str, Any]:
    return {
        "manager": manager,
        "reader_a": reader_a,
        "reader_b": reader_b,
        "adjudicator": adjudicator,
        "sponsor": sponsor,
        "outsider": outsider,
    }


def _row(page: str, visit: str) -> str:
    found = re.search(rf'<th scope="row">{visit}</th>.*?</tr>', page, re.S)
    assert found, visit
    return found.group(0)


def _cells(row: str) -> dict[str, str]:
    """criterion -> its cell's markup in one table row."""
    parts = re.split(r'<div class="cell" data-criterion="', row)[1:]
    return {part.split('"', 1)[0]: part for part in parts}


def test_subject_page_shows_every_criterion_side_by_side_with_its_explanation(
    web: dict[str, Client], users: dict[str, Any]
) -> None:
    _, alike, _ = _ct_trial(users)
    url = f"/subjects/{alike.subject.pk}/"
    for who in ("manager", "sponsor"):
        page = web[who].get(url).content.decode()
        headers = re.findall(r'<th scope="col">([^<]+)</th>', page)
        assert headers[:6] == ["Visit", "Scan", "RECIST 1.1", "irRC", "irRECIST", "itRECIST"], who
        week6 = _cells(_row(page, "WEEK6"))
        assert list(week6) == CT_CRITERIA
        assert "resp-SD" in week6["recist1.1"] and "Σ 65.0 mm, -27.8% vs baseline" in week6["recist1.1"]
        assert "resp-irSD" in week6["irrc"]
        assert "tumour burden 1,170.0 mm² (sum of products), -49.1% vs baseline" in week6["irrc"]
        assert "index lesions 1,170.0 mm² + new measurable lesions 0.0 mm²" in week6["irrc"]
        assert "resp-irSD" in week6["irrecist"] and "Σ 65.0 mm" in week6["irrecist"]
        # itRECIST: T1 injected (40 -> 30 mm, -25 %), T2 + T3 not (50 -> 35 mm, -30 %)
        # (itRECIST's overall basis is iRECIST by default, T1)
        assert "injected (T1): iSD (T iSD, NT NA, Σ 30.0 mm, nadir 40.0 mm)" in week6["itrecist"]
        assert "non-injected: iPR (T iPR, NT NON-iCR/NON-iUPD, NL NO, Σ 35.0 mm" in week6["itrecist"]
        # the engine's sentences, under "why"
        assert "(IRRC-BURDEN)" in week6["irrc"] and '<ul class="why">' in week6["irrc"]
        endpoints = page[page.index('id="h-endpoints"') :]
        assert "injected lesions: best response: iSD" in endpoints
        assert "non-injected lesions: best response: iPR" in endpoints


def test_pet_subject_page_shows_the_sulpeak_of_each_pet_criterion(
    web: dict[str, Client], users: dict[str, Any]
) -> None:
    _, subject = _pet_trial(users)
    page = web["manager"].get(f"/subjects/{subject.pk}/").content.decode()
    week8, week16 = _cells(_row(page, "WEEK8")), _cells(_row(page, "WEEK16"))
    assert list(week8) == PET_CRITERIA
    assert "SULpeak 5.2 (L1) vs 8.0 (L1) at baseline: -35.0%, -2.8 SUL" in week8["percist"]
    assert "resp-PMR" in week8["percist"] and "resp-UPMD" in week16["ipercist"]
    assert "SULpeak sum 7.1 (L1, L2) vs 13.0 at baseline: -45.4%" in week8["impercist5"]
    assert "resolved baseline lesions: L2" in week8["percimt"]
    assert "measurability threshold (SUL)</dt><dd>3.6</dd>" in week8["percist"]
    # A PET-only read (no CT baseline) is evaluated on its reader's read page too.
    read = subject.reads.get(slot=1)
    own = web["reader_a"].get(f"/reads/{read.pk}/").content.decode()
    assert list(_cells(own[own.index("WEEK8") :].split("WEEK16")[0])) == PET_CRITERIA
    assert "SULpeak 11.0 (L1) vs 8.0 (L1) at baseline: +37.5%, +3.0 SUL" in own


def test_a_reader_sees_every_criterion_of_their_own_read_only(
    web: dict[str, Client], users: dict[str, Any]
) -> None:
    _, _, apart = _ct_trial(users)
    page = web["reader_b"].get(f"/reads/{apart.read_b.pk}/").content.decode()
    week6 = _cells(page[page.index("WEEK6") :])
    assert list(week6) == CT_CRITERIA
    assert "tumour burden 645.0 mm²" in week6["irrc"] and "resp-irPR" in week6["irrc"]  # B's own values
    assert "1,170.0" not in page and "65.0 mm" not in page  # reader A's read of the same subject
    # A pre-baseline scan (tumour growth rate) comes first, with the sum the reader gave.
    pre = trial_services.timepoint_create(
        subject_id=apart.subject.pk,
        visit_label="PRE",
        visit_number=0,
        scan_date_earliest=dt.date(2024, 11, 20),
        is_prebaseline=True,
        actor=users["manager"],
    )
    tr = TimepointRead.objects.get(read=apart.read_b, timepoint=pre)
    read_services.timepoint_read_save_prebaseline(
        timepoint_read_id=tr.pk,
        scan=read_services.PrebaselineInput(sum_mm=Decimal("72.5")),
        expected_version=tr.version,
        actor=users["reader_b"],
    )
    page = web["reader_b"].get(f"/reads/{apart.read_b.pk}/").content.decode()
    visits = re.findall(r'/timepoint-reads/\d+/">([A-Z0-9-]+)</a>', page)
    assert visits == ["PRE", "BASELINE", "WEEK6"]
    assert 'data-testid="prebaseline">before baseline: Σ 72.5 mm<' in page
    # Reader A's read and the subject page (both reads' results) do not exist for reader B.
    assert web["reader_b"].get(f"/reads/{apart.read_a.pk}/").status_code == 404
    assert web["reader_b"].get(f"/subjects/{apart.subject.pk}/").status_code in (403, 404)
    # The adjudicator sees both reads, every criterion, without who read them.
    case = apart.subject.adjudication_cases.get(status="OPEN")
    view = web["adjudicator"].get(f"/adjudication/{case.pk}/").content.decode()
    assert view.count('data-criterion="irrc"') == 2 and "645.0 mm²" in view and "1,170.0 mm²" in view
    assert "reader_a" not in view and "Ada" not in view


def _plots(client: Client, trial: Trial, criterion: str) -> ET.Element:
    response = client.get(
        f"/trials/{trial.pk}/", {"criterion": criterion}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="plots"
    )
    assert response.status_code == 200
    return ET.fromstring(f"<root>{response.content.decode().split('</nav>', 1)[1]}</root>")


def _svgs(root: ET.Element) -> dict[str, ET.Element]:
    return {svg.get("aria-labelledby", "").split("-", 1)[0]: svg for svg in root.iter(f"{SVG}svg")}


def _titles(svg: ET.Element, tag: str) -> list[str]:
    """The hover titles of the plot's marks of one kind (rect, circle, path)."""
    return [
        e.findtext(f"{SVG}title") or "" for e in svg.iter(f"{SVG}{tag}") if e.find(f"{SVG}title") is not None
    ]


def _bars(svg: ET.Element) -> list[str]:
    return [t for t in _titles(svg, "rect") if "%" in t]


def _labels(svg: ET.Element) -> set[str]:
    return {t.text or "" for t in svg.iter(f"{SVG}text")}


def test_plots_per_criterion_family_draw_their_own_quantity(
    web: dict[str, Client], users: dict[str, Any]
) -> None:
    ct, _, _ = _ct_trial(users)
    tabs = web["manager"].get(f"/trials/{ct.pk}/").content.decode()
    labels = {"recist1.1": "RECIST 1.1", "irrc": "irRC", "irrecist": "irRECIST", "itrecist": "itRECIST"}
    for criterion, label in labels.items():
        assert f'hx-get="?criterion={criterion}"' in tabs and f">{label}</a>" in tabs

    # RECIST 1.1: the target sum (S-102 has no accepted read yet: adjudication open)
    svgs = _svgs(_plots(web["manager"], ct, "recist1.1"))
    assert _bars(svgs["wf"]) == ["S-101: -27.8% (SD; Σ 65.0 mm)"]
    assert {"+20% (PD)", "−30% (PR)"} <= _labels(svgs["wf"])
    # irRC: the tumour burden (sum of products), irRC's thresholds
    svgs = _svgs(_plots(web["manager"], ct, "irrc"))
    assert _bars(svgs["wf"]) == ["S-101: -49.1% (irSD; burden 1,170.0 mm²)"]
    assert {"+25% (irPD)", "−50% (irPR)"} <= _labels(svgs["wf"]) and "+20% (PD)" not in _labels(svgs["wf"])
    # day 43: the scans' last day (2025-02-17) after the baseline scan (2025-01-05)
    assert _titles(svgs["sp"], "circle") == ["S-101 day 43: -49.1% (burden 1,170.0 mm²)"]
    assert "of the tumour burden (sum of products)" in (svgs["wf"].findtext(f"{SVG}title") or "")
    assert "S-101 day 43: irSD" in _titles(svgs["sw"], "circle")

    pet, _ = _pet_trial(users)
    # PERCIST: the hottest lesion's SULpeak, from the exact SUL values; +-30 % thresholds
    svgs = _svgs(_plots(web["sponsor"], pet, "percist"))
    assert _bars(svgs["wf"]) == ["P-001: -35.0% (SMD; SULpeak 5.2 vs 8.0)"]  # colour: confirmed BOR
    assert _titles(svgs["sp"], "circle") == [
        "P-001 day 56: -35.0% (SULpeak 5.2 vs 8.0)",
        "P-001 day 112: +37.5% (SULpeak 11.0 vs 8.0)",
    ]
    assert {"+30% (PMD)", "−30% (PMR)"} <= _labels(svgs["sp"])
    assert "P-001 day 112: PMD" in _titles(svgs["sw"], "path")
    # iPERCIST: the same quantity, its own codes on the swimmer
    svgs = _svgs(_plots(web["sponsor"], pet, "ipercist"))
    assert "P-001 day 112: UPMD" in _titles(svgs["sw"], "path") and "+30% (UPMD)" in _labels(svgs["wf"])
    # imPERCIST5: the SULpeak sum of the five hottest lesions (13.0 -> 7.1 -> 15.0)
    svgs = _svgs(_plots(web["sponsor"], pet, "impercist5"))
    assert _titles(svgs["sp"], "circle") == [
        "P-001 day 56: -45.4% (SULpeak sum 7.1 vs 13.0)",
        "P-001 day 112: +15.4% (SULpeak sum 15.0 vs 13.0)",
    ]
    # PERCIMT: no continuous quantity -- said so; the swimmer still shows its responses
    svgs = _svgs(_plots(web["sponsor"], pet, "percimt"))
    assert "no continuous measure" in (svgs["wf"].findtext(f"{SVG}desc") or "")
    assert "no continuous measure" in (svgs["sp"].findtext(f"{SVG}desc") or "")
    assert "P-001 day 56: PMR" in _titles(svgs["sw"], "path")
