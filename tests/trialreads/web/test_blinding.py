"""Blinding holds on every page and fragment: the same access gate as the API, the same 404
for "not yours" and "does not exist", and every denial audited."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tests.conftest import TrialWithReads, leaks, read_identifiers, save_baseline
from tests.factories import PASSWORD, UserFactory
from tests.trialreads.web.conftest import BASELINE_POST_MINIMAL, client_for
from trialreads.choices import AuditEventType, TrialRole
from trialreads.models import AdjudicationCase, AuditEvent, TimepointRead
from trialreads.services import trials as trial_services

pytestmark = pytest.mark.django_db


def body(response: Any) -> bytes:
    """The page without its (per-response masked) CSRF token."""
    content = re.sub(rb'"X-CSRFToken": "[^"]*"', b"", response.content)
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", content)


def reader_a_urls(tw: TrialWithReads) -> list[str]:
    """Every GET page and fragment of reader A's read."""
    urls = [f"/reads/{tw.read_a.pk}/"]
    for index in range(3):
        tr = tw.tr(tw.read_a, index)
        urls += [f"/timepoint-reads/{tr.pk}/", f"/timepoint-reads/{tr.pk}/check/"]
    return urls


def test_reader_b_gets_404_on_every_page_and_fragment_of_reader_as_read(
    web: dict[str, Client], trial_with_reads: TrialWithReads, reader_a: Any
) -> None:
    tw = trial_with_reads
    save_baseline(tw.tr(tw.read_a, 0), reader_a)
    denied_before = AuditEvent.objects.filter(event_type=AuditEventType.ACCESS_DENIED).count()
    not_found = web["reader_b"].get("/reads/999999/")
    assert not_found.status_code == 404
    for url in reader_a_urls(tw):
        response = web["reader_b"].get(url)
        assert response.status_code == 404, url
        # Byte-identical to a read that does not exist: nothing tells B that A's read exists.
        assert body(response) == body(not_found), url
        assert b"T1" not in body(response) and b"liver" not in body(response)
    tr = tw.tr(tw.read_a, 0)
    assert web["reader_b"].post(f"/timepoint-reads/{tr.pk}/", BASELINE_POST_MINIMAL).status_code == 404
    assert (
        web["reader_b"]
        .post(f"/timepoint-reads/{tr.pk}/sign/", {"printed_name": "B", "password": PASSWORD})
        .status_code
        == 404
    )
    assert TimepointRead.objects.get(pk=tr.pk).version == 2 and not TimepointRead.objects.get(pk=tr.pk).locked
    denied = AuditEvent.objects.filter(event_type=AuditEventType.ACCESS_DENIED, actor_username="reader_b")
    assert denied.count() >= len(reader_a_urls(tw)) + 2
    assert AuditEvent.objects.filter(event_type=AuditEventType.ACCESS_DENIED).count() > denied_before


def test_reader_worklist_and_read_page_never_show_the_other_read_or_the_arm(
    web: dict[str, Client], trial_with_reads: TrialWithReads, reader_a: Any
) -> None:
    tw = trial_with_reads
    save_baseline(tw.tr(tw.read_a, 0), reader_a)
    for url in ("/", f"/reads/{tw.read_b.pk}/", f"/timepoint-reads/{tw.tr(tw.read_b, 0).pk}/"):
        page = web["reader_b"].get(url).content.decode()
        assert f"/reads/{tw.read_a.pk}/" not in page
        assert "reader_a" not in page and "Ada" not in page and "EXPERIMENTAL" not in page


def test_adjudication_page_is_hidden_from_readers_sponsors_and_outsiders(
    web: dict[str, Client], disagreement: AdjudicationCase
) -> None:
    url = f"/adjudication/{disagreement.pk}/"
    for who in ("reader_a", "reader_b", "sponsor", "outsider"):
        missing = web[who].get("/adjudication/999999/")
        response = web[who].get(url)
        assert response.status_code == 404, who
        assert body(response) == body(missing)
        post = web[who].post(
            url, {"chosen": "A", "rationale": "x", "printed_name": "x", "password": PASSWORD}
        )
        assert post.status_code == 404, who
    assert web["anonymous"].get(url).status_code == 302
    disagreement.refresh_from_db()
    assert disagreement.status == "OPEN"


def test_an_adjudicator_sees_only_the_cases_assigned_to_them(
    web: dict[str, Client], trial_with_reads: TrialWithReads, disagreement: AdjudicationCase, manager: Any
) -> None:
    other = UserFactory(username="adjudicator_2")
    trial_services.membership_add(
        trial_id=trial_with_reads.trial.pk, user_id=other.pk, role=TrialRole.ADJUDICATOR, actor=manager
    )
    assert client_for(other).get(f"/adjudication/{disagreement.pk}/").status_code == 404
    assert f"/adjudication/{disagreement.pk}/" not in client_for(other).get("/").content.decode()


def _read_pages(tw: TrialWithReads) -> list[str]:
    """Every page and fragment of both reads (GET)."""
    urls = []
    for read in (tw.read_a, tw.read_b):
        urls.append(f"/reads/{read.pk}/")
        for index in range(len(tw.timepoints)):
            tr = tw.tr(read, index)
            urls += [f"/timepoint-reads/{tr.pk}/", f"/timepoint-reads/{tr.pk}/check/"]
            urls.append(f"/timepoint-reads/{tr.pk}/row/?group=new_lesions&new_lesions-TOTAL=0")
    return urls


def test_adjudicators_get_the_missing_404_on_the_read_pages(
    web: dict[str, Client], trial_with_reads: TrialWithReads, disagreement: AdjudicationCase
) -> None:
    """The adjudicator works only on the blinded case page: every page of either read, the
    signed timepoints of the case included, answers byte for byte like a missing id (a 403
    would confirm that the id is one of the two reads of their case), and is audited."""
    tw = trial_with_reads
    client = web["adjudicator"]
    missing = {
        "read": client.get("/reads/999999/"),
        "tr": client.get("/timepoint-reads/999999/"),
    }
    assert missing["read"].status_code == missing["tr"].status_code == 404
    for url in _read_pages(tw):
        response = client.get(url)
        assert response.status_code == 404, url
        assert body(response) == body(missing["read"]), url
    for index in range(len(tw.timepoints)):
        tr = tw.tr(tw.read_a, index)
        posts = (
            ("", BASELINE_POST_MINIMAL),
            ("sign/", {"printed_name": "x", "password": PASSWORD}),
            ("unlock/", {"reason": "x"}),
        )
        for action, data in posts:
            response = client.post(f"/timepoint-reads/{tr.pk}/{action}", data)
            assert response.status_code == 404, (tr.pk, action)
            assert body(response) == body(missing["tr"])
    assert AuditEvent.objects.filter(
        event_type=AuditEventType.ACCESS_DENIED, actor_username="adjudicator"
    ).count() >= len(_read_pages(tw))


def test_adjudicator_pages_carry_no_read_identity(
    distinct_ids: None,
    web: dict[str, Client],
    trial_with_reads: TrialWithReads,
    disagreement: AdjudicationCase,
    adjudicator: Any,
) -> None:
    """Worklist, case page (open, refused decision, signed decision) and every other page the
    adjudicator can open: no id of the reads, their timepoint reads, lesions, values or
    signatures (not in links, htmx attributes or element ids either), no reader name,
    slot, "RADIOLOGIST n" or creation/signing time."""
    tw = trial_with_reads
    needles = read_identifiers(tw.subject)
    client = web["adjudicator"]
    case_url = f"/adjudication/{disagreement.pk}/"
    pages = {
        "/": client.get("/"),
        case_url: client.get(case_url),
        f"{case_url} (refused)": client.post(case_url, {"chosen": "A", "rationale": "", "password": "x"}),
        f"{case_url} (wrong password)": client.post(
            case_url,
            {"chosen": "B", "rationale": "T1 remeasured", "printed_name": "Alex Judge", "password": "nope"},
        ),
    }
    assert pages[case_url].status_code == 200
    assert b"Read A" in pages[case_url].content and b"Read B" in pages[case_url].content
    for url in [
        *_read_pages(tw),
        f"/trials/{tw.trial.pk}/",
        f"/trials/{tw.trial.pk}/audit/",
        f"/trials/{tw.trial.pk}/endpoints/progress/",
        f"/subjects/{tw.subject.pk}/",
    ]:
        pages[url] = client.get(url)
    decided = client.post(
        case_url,
        {"chosen": "B", "rationale": "T1 remeasured", "printed_name": "Alex Judge", "password": PASSWORD},
    )
    assert decided.status_code == 302
    pages[f"{case_url} (decided)"] = client.get(case_url)
    pages["/ (decided)"] = client.get("/")
    assert b"Read B accepted" in pages[f"{case_url} (decided)"].content
    found = [
        f"{url} -> {r.status_code}: {leak}" for url, r in pages.items() for leak in leaks(body(r), needles)
    ]
    assert not found, "\n".join(found)


def test_managers_pages_are_refused_to_other_roles(
    web: dict[str, Client], trial_with_reads: TrialWithReads
) -> None:
    tw = trial_with_reads
    manager_only = [f"/trials/{tw.trial.pk}/audit/"]
    results = [
        f"/trials/{tw.trial.pk}/",
        f"/subjects/{tw.subject.pk}/",
        f"/trials/{tw.trial.pk}/endpoints/progress/",
    ]
    for who in ("reader_a", "reader_b", "adjudicator"):
        for url in manager_only + results:
            assert web[who].get(url).status_code in (403, 404), (who, url)
        assert web[who].post(f"/trials/{tw.trial.pk}/endpoints/").status_code in (403, 404)
        assert web[who].post(f"/trials/{tw.trial.pk}/exports/").status_code in (403, 404)
    for url in manager_only + results:
        assert web["outsider"].get(url).status_code == 404, url
    assert web["sponsor"].get(manager_only[0]).status_code == 403
    assert web["sponsor"].post(f"/trials/{tw.trial.pk}/endpoints/").status_code == 403
    assert web["sponsor"].get(results[0]).status_code == 200


def test_the_manager_cannot_edit_or_live_check_a_readers_draft(
    web: dict[str, Client], trial_with_reads: TrialWithReads
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    assert web["manager"].get(f"/timepoint-reads/{tr.pk}/check/").status_code == 404
    response = web["manager"].post(
        f"/timepoint-reads/{tr.pk}/", {**BASELINE_POST_MINIMAL, "version": tr.version}
    )
    assert response.status_code == 403
    assert TimepointRead.objects.get(pk=tr.pk).saved_at is None
