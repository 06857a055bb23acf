"""T-BLIND-MATRIX, T-BLIND-SIDECHANNEL, T-AUTHZ-AUDIT over HTTP.

Every URL pattern is enumerated from ``get_resolver()``; each one must be classified here
(an API route: expected status per method and role; anything else: a namespace with its own
check). A new endpoint without an entry fails :func:`test_every_route_is_classified`.

Each request of the matrix runs inside a savepoint that is rolled back, so a successful
write (reader B saving their follow-up, the manager unlocking) does not change what the
next request sees: every cell is judged against the same fixture state.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from tests.conftest import (
    PASSWORD,
    TrialWithReads,
    leaks,
    read_identifiers,
    save_baseline,
    sign,
)
from tests.trialreads.api.conftest import BASELINE_BODY, FOLLOWUP_BODY, client_for
from trialreads.choices import AuditEventType
from trialreads.models import AuditEvent, Read, TimepointRead
from trialreads.services import trials as trial_services

ROLES = ("reader_a", "reader_b", "adjudicator", "manager", "sponsor", "outsider", "anonymous")
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
NONEXISTENT = 987654

#: Not an allowed method: 405 once authenticated (authentication is checked first).
NA = (405, 405, 405, 405, 405, 405, 401)
#: Public (schema, docs): everyone, including anonymous.
PUBLIC_NA = (405,) * 7


def row(*statuses: int) -> tuple[int, ...]:
    assert len(statuses) == len(ROLES)
    return statuses


@dataclass(frozen=True)
class Route:
    """Expected statuses for one API route: ``target`` names the fixture object whose id
    fills ``<pk>``; ``body`` builds the request body for writes (per role)."""

    target: str | None
    methods: dict[str, tuple[int, ...]]
    public: bool = False
    extra: tuple[tuple[str, str], ...] = ()

    def expected(self, method: str) -> tuple[int, ...]:
        if method in self.methods:
            return self.methods[method]
        if method == "HEAD" and "GET" in self.methods:
            return self.methods["GET"]
        return PUBLIC_NA if self.public else NA


#   reader_a, reader_b, adjudicator, manager, sponsor, outsider, anonymous
ALL_MEMBERS = row(200, 200, 200, 200, 200, 404, 401)

#: The matrix. Fixture state: subject S-001 with reads A (slot 1) and B (slot 2); both
#: readers signed the baseline; B saved (not signed) week 6. Targets are B's objects so that
#: every reader-A cell is the "not yours" case.
API_ROUTES: dict[str, Route] = {
    "trialreads-api:auth-token": Route(None, {"POST": row(200, 200, 200, 200, 200, 200, 400)}, public=True),
    "trialreads-api:auth-logout": Route(None, {"POST": row(204, 204, 204, 204, 204, 204, 401)}),
    "trialreads-api:auth-logoutall": Route(None, {"POST": row(204, 204, 204, 204, 204, 204, 401)}),
    "trialreads-api:schema": Route(None, {"GET": (200,) * 7}, public=True),
    "trialreads-api:docs": Route(None, {"GET": (200,) * 7}, public=True),
    "trialreads-api:trial-list": Route(None, {"GET": row(200, 200, 200, 200, 200, 200, 401)}),
    "trialreads-api:trial-detail": Route("trial", {"GET": ALL_MEMBERS}),
    "trialreads-api:trial-charter": Route("trial", {"GET": ALL_MEMBERS}),
    "trialreads-api:trial-charters": Route("trial", {"GET": ALL_MEMBERS}),
    "trialreads-api:trial-memberships": Route("trial", {"GET": ALL_MEMBERS}),
    "trialreads-api:trial-subjects": Route(
        "trial", {"GET": ALL_MEMBERS, "POST": row(403, 403, 403, 201, 403, 404, 401)}
    ),
    "trialreads-api:trial-audit": Route("trial", {"GET": row(403, 403, 403, 200, 403, 404, 401)}),
    "trialreads-api:subject-detail": Route(
        "subject", {"GET": ALL_MEMBERS, "PATCH": row(403, 403, 403, 200, 403, 404, 401)}
    ),
    "trialreads-api:subject-timepoints": Route(
        "subject",
        {"GET": ALL_MEMBERS, "POST": row(403, 403, 403, 201, 403, 404, 401)},
    ),
    "trialreads-api:read-list": Route(None, {"GET": row(200, 200, 200, 200, 200, 200, 401)}),
    # The adjudicator sees the reads only through their case ("Read A"/"Read B", no ids): the
    # read routes answer them as for a missing id, signed timepoints included (read ids are
    # sequential and would tell which label is slot 1).
    "trialreads-api:read-detail": Route("read_b", {"GET": row(404, 200, 404, 200, 404, 404, 401)}),
    "trialreads-api:read-timepoint-reads": Route("read_b", {"GET": row(404, 200, 404, 200, 404, 404, 401)}),
    "trialreads-api:read-evaluation": Route("read_b", {"GET": row(404, 200, 404, 200, 404, 404, 401)}),
    "trialreads-api:timepoint-read-detail": Route("tr_b0", {"GET": row(404, 200, 404, 200, 404, 404, 401)}),
    # B's signed baseline: B is refused by the lock (409), the manager by role (403), the
    # others by blinding (404).
    "trialreads-api:timepoint-read-baseline": Route(
        "tr_b0",
        {"PUT": row(404, 409, 404, 403, 404, 404, 401), "PATCH": row(404, 409, 404, 403, 404, 404, 401)},
    ),
    # B's draft week 6.
    "trialreads-api:timepoint-read-followup": Route(
        "tr_b1",
        {"PUT": row(404, 200, 404, 403, 404, 404, 401), "PATCH": row(404, 200, 404, 403, 404, 404, 401)},
    ),
    # B's draft week 6 again (a CT timepoint of a charter without a PET criterion, not a
    # pre-baseline scan): B reaches the service, which refuses the PET scan (400) and the
    # pre-baseline form (409); the manager is refused by role, the others by blinding.
    "trialreads-api:timepoint-read-pet": Route(
        "tr_b1",
        {"PUT": row(404, 400, 404, 403, 404, 404, 401), "PATCH": row(404, 400, 404, 403, 404, 404, 401)},
    ),
    "trialreads-api:timepoint-read-prebaseline": Route(
        "tr_b1",
        {"PUT": row(404, 409, 404, 403, 404, 404, 401), "PATCH": row(404, 409, 404, 403, 404, 404, 401)},
    ),
    "trialreads-api:timepoint-read-sign": Route("tr_b1", {"POST": row(404, 200, 404, 403, 404, 404, 401)}),
    "trialreads-api:timepoint-read-unlock": Route("tr_b0", {"POST": row(404, 403, 404, 200, 404, 404, 401)}),
    "trialreads-api:timepoint-read-verify": Route("tr_b0", {"GET": row(404, 200, 404, 200, 404, 404, 401)}),
    # Adjudication (subject S-ADJ: both readers signed baseline and week 6, PR vs PD -> an
    # open case assigned to the adjudicator). A case reveals that the reads disagree: no reader,
    # no sponsor.
    "trialreads-api:adjudication-list": Route(None, {"GET": row(200, 200, 200, 200, 200, 200, 401)}),
    "trialreads-api:adjudication-detail": Route("case", {"GET": row(404, 404, 200, 200, 404, 404, 401)}),
    "trialreads-api:adjudication-decide": Route("case", {"POST": row(404, 404, 200, 403, 404, 404, 401)}),
    "trialreads-api:adjudication-assign": Route("case", {"POST": row(404, 404, 403, 200, 404, 404, 401)}),
    "trialreads-api:subject-adjudication-evaluate": Route(
        "subject", {"POST": row(403, 403, 403, 200, 403, 404, 401)}
    ),
    "trialreads-api:trial-accepted-reads": Route("trial", {"GET": row(403, 403, 403, 200, 200, 404, 401)}),
    "trialreads-api:trial-reader-metrics": Route("trial", {"GET": row(403, 403, 403, 200, 403, 404, 401)}),
    "trialreads-api:trial-investigator-assessments": Route(
        "trial", {"POST": row(403, 403, 403, 200, 403, 404, 401)}
    ),
    # Endpoints and exports (a finished computation and a built export batch): managers and
    # sponsor viewers. On the trial's lists the review team is refused (audited 403: the trial
    # is theirs to see), non-members get 404; a job or batch by id does not exist for either.
    "trialreads-api:trial-endpoint-jobs": Route(
        "trial",
        {"GET": row(403, 403, 403, 200, 200, 404, 401), "POST": row(403, 403, 403, 202, 403, 404, 401)},
    ),
    "trialreads-api:trial-endpoint-results": Route("trial", {"GET": row(403, 403, 403, 200, 200, 404, 401)}),
    "trialreads-api:trial-endpoint-analyses": Route("trial", {"GET": row(403, 403, 403, 200, 200, 404, 401)}),
    "trialreads-api:endpoint-job-detail": Route("job", {"GET": row(404, 404, 404, 200, 200, 404, 401)}),
    "trialreads-api:trial-exports": Route(
        "trial",
        {"GET": row(403, 403, 403, 200, 200, 404, 401), "POST": row(403, 403, 403, 202, 202, 404, 401)},
    ),
    "trialreads-api:export-detail": Route("batch", {"GET": row(404, 404, 404, 200, 200, 404, 401)}),
    "trialreads-api:export-file": Route(
        "batch", {"GET": row(404, 404, 404, 200, 200, 404, 401)}, extra=(("name", "manifest.json"),)
    ),
    # Confirmation windows (managers, sponsor viewers) and sponsor contacts (managers): to the
    # review team they do not exist (a window may rest on the other reader's read): 404.
    "trialreads-api:trial-confirmation-windows": Route(
        "trial", {"GET": row(404, 404, 404, 200, 200, 404, 401)}
    ),
    "trialreads-api:trial-sponsor-contacts": Route(
        "trial",
        {"GET": row(404, 404, 404, 200, 404, 404, 401), "POST": row(404, 404, 404, 201, 404, 404, 401)},
    ),
    "trialreads-api:sponsor-contact-detail": Route(
        "contact",
        {"GET": row(404, 404, 404, 200, 404, 404, 401), "PATCH": row(404, 404, 404, 200, 404, 404, 401)},
    ),
}

#: Non-API namespaces checked as a whole (the admin: staff only, read-only by design).
OTHER_NAMESPACES = {"admin"}

#: Pages of the web UI: URL kwargs (fixture object per argument) and the anonymous answer
#: (302 = sent to the login page). Blinding of the pages' content is tested with the UI;
#: here every page must be classified and must refuse an anonymous visitor.
WEB = "trialreads-web"
WEB_ROUTES: dict[str, tuple[dict[str, str], int]] = {
    f"{WEB}:login": ({}, 200),
    f"{WEB}:logout": ({}, 405),
    f"{WEB}:worklist": ({}, 302),
    f"{WEB}:read": ({"read_id": "read_b"}, 302),
    f"{WEB}:timepoint-read": ({"tr_id": "tr_b0"}, 302),
    f"{WEB}:timepoint-read-check": ({"tr_id": "tr_b1"}, 302),
    f"{WEB}:timepoint-read-sign": ({"tr_id": "tr_b1"}, 405),  # POST only
    f"{WEB}:timepoint-read-unlock": ({"tr_id": "tr_b0"}, 405),  # POST only
    f"{WEB}:timepoint-read-row": ({"tr_id": "tr_b0"}, 302),
    f"{WEB}:adjudication-assign": ({"case_id": "missing"}, 405),  # POST only
    f"{WEB}:adjudication": ({"case_id": "missing"}, 302),
    f"{WEB}:dashboard": ({"trial_id": "trial"}, 302),
    f"{WEB}:endpoints-compute": ({"trial_id": "trial"}, 405),  # POST only
    f"{WEB}:endpoints-progress": ({"trial_id": "trial"}, 302),
    f"{WEB}:export-start": ({"trial_id": "trial"}, 405),  # POST only
    f"{WEB}:audit": ({"trial_id": "trial"}, 302),
    f"{WEB}:subject": ({"subject_id": "subject"}, 302),
    f"{WEB}:export-progress": ({"batch_id": "missing"}, 302),
    f"{WEB}:export-download": ({"batch_id": "missing", "name": "ADRS.xpt"}, 302),
}
#: Web pages showing one reader's work: reader A on B's object == a missing id.
_CSRF = re.compile(rb'"X-CSRFToken": "[A-Za-z0-9]+"|name="csrfmiddlewaretoken" value="[A-Za-z0-9]+"')
WEB_OBJECT_PAGES = {f"{WEB}:read": "read_b", f"{WEB}:timepoint-read": "tr_b0"}


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, str]]:
    """(namespace, qualified name or "", pattern) of every URL pattern, recursively."""
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = namespace
            if p.namespace:
                ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = f"{namespace}:{p.name}" if namespace and p.name else (p.name or "")
            yield namespace, name, prefix + str(p.pattern)


def all_routes() -> list[tuple[str, str, str]]:
    return list(_walk(get_resolver().url_patterns))


def test_every_route_is_classified() -> None:
    unclassified = []
    for namespace, name, pattern in all_routes():
        if name in API_ROUTES or name in WEB_ROUTES:
            continue
        if namespace in OTHER_NAMESPACES and not pattern.startswith("api/"):
            continue
        unclassified.append((name or "<unnamed>", pattern))
    assert not unclassified, f"routes without a blinding-matrix entry: {unclassified}"


def test_enumeration_sees_the_api() -> None:
    """Guard against a walker that finds nothing (which would make the test above pass)."""
    patterns = {pattern for _, _, pattern in all_routes()}
    assert "api/timepoint-reads/<int:pk>/sign/" in patterns
    assert len([p for p in patterns if p.startswith("api/")]) == len(API_ROUTES)


def test_matrix_has_no_stale_entries() -> None:
    names = {name for _, name, _ in all_routes()}
    assert set(API_ROUTES) <= names
    assert set(WEB_ROUTES) <= names


def _body(route: str, role: str, users: dict[str, Any]) -> dict[str, Any] | None:
    if route == "trialreads-api:auth-token":
        user = users.get(role)
        return {"username": user.username if user else "nobody", "password": PASSWORD}
    if route == "trialreads-api:timepoint-read-baseline":
        return BASELINE_BODY
    if route == "trialreads-api:timepoint-read-followup":
        return FOLLOWUP_BODY
    if route == "trialreads-api:timepoint-read-pet":
        return {
            "reference_site": "liver",
            "reference_mean": 2.0,
            "reference_sd": 0.3,
            "lesions": [{"code": "P1", "organ": "lung", "sul_peak": 8.0}],
        }
    if route == "trialreads-api:timepoint-read-prebaseline":
        return {"sum_mm": 45.0}
    if route == "trialreads-api:timepoint-read-sign":
        user = users.get(role)
        return {"password": PASSWORD, "printed_name": user.get_full_name() if user else "x"}
    if route == "trialreads-api:timepoint-read-unlock":
        return {"reason": "transcription error in T2"}
    if route == "trialreads-api:adjudication-decide":
        user = users.get(role)
        return {
            "chosen": "A",
            "rationale": "Read A measured T1 on the portal-venous phase.",
            "password": PASSWORD,
            "printed_name": user.get_full_name() if user else "x",
        }
    if route == "trialreads-api:adjudication-assign":
        return {"adjudicator_id": users["adjudicator"].pk}
    if route == "trialreads-api:trial-investigator-assessments":
        return {"data_source": "EDC extract 2025-06-01", "rows": []}
    if route == "trialreads-api:trial-sponsor-contacts":
        return {"name": "Sponsor medical monitor", "email": "monitor@sponsor.example"}
    if route == "trialreads-api:sponsor-contact-detail":
        return {"active": False}
    if route == "trialreads-api:trial-subjects":
        return {"site_code": "SITE01", "subject_code": "S-777", "randomisation_date": "2025-01-10"}
    if route == "trialreads-api:subject-detail":
        return {"reason": "survival follow-up", "last_contact_date": "2025-03-01"}
    if route == "trialreads-api:subject-timepoints":
        return {"visit_label": "WEEK18", "visit_number": 3, "scan_date_earliest": "2025-05-10"}
    return None


def _current_etag(obj: Any) -> str | None:
    if isinstance(obj, TimepointRead):
        obj.refresh_from_db()
        return f'"tr{obj.pk}-v{obj.version}"'
    return None


def request(client: APIClient, method: str, url: str, body: Any = None, if_match: str | None = None) -> Any:
    extra = {"HTTP_IF_MATCH": if_match} if if_match else {}
    call: Callable[..., Any] = getattr(client, method.lower())
    if body is None:
        return call(url, **extra)
    return call(url, body, format="json", **extra)


def _url(route: str, target: Any) -> str:
    if target is None:
        return reverse(route)
    return reverse(route, kwargs={"pk": target, **dict(API_ROUTES[route].extra)})


def test_blinding_matrix(
    world: dict[str, Any],
    reader_a: Any,
    reader_b: Any,
    adjudicator: Any,
    manager: Any,
    sponsor: Any,
    outsider: Any,
) -> None:
    """Every API route x every method x every role against the expected status (one fixture
    for all roles; every cell in its own rolled-back savepoint)."""
    users = {
        "reader_a": reader_a,
        "reader_b": reader_b,
        "adjudicator": adjudicator,
        "manager": manager,
        "sponsor": sponsor,
        "outsider": outsider,
    }
    failures, cells = [], 0
    for col, role in enumerate(ROLES):
        client = client_for(users.get(role))
        for name, route in API_ROUTES.items():
            target = world[route.target] if route.target else None
            url = _url(name, target.pk if target is not None else None)
            for method in METHODS:
                expected = route.expected(method)[col]
                body = _body(name, role, users) if method in {"POST", "PUT", "PATCH"} else None
                with transaction.atomic():
                    response = request(client, method, url, body, _current_etag(target))
                    transaction.set_rollback(True)
                cells += 1
                if response.status_code != expected:
                    failures.append(f"{method} {name} as {role}: {response.status_code} != {expected}")
    assert not failures, "\n".join(failures)
    assert cells == len(ROLES) * len(METHODS) * len(API_ROUTES)


def test_admin_needs_staff(client: Any, manager: Any, reader_a: Any) -> None:
    """The admin (read-only) is for staff only; a reader is sent to the login page."""
    url = reverse("admin:index")
    assert client.get(url).status_code == 302
    client.force_login(reader_a)
    assert client.get(url).status_code == 302
    client.force_login(manager)
    assert client.get(url).status_code == 200


def _web_kwargs(spec: dict[str, str], world: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for arg, key in spec.items():
        out[arg] = key if arg == "name" else (NONEXISTENT if key == "missing" else world[key].pk)
    return out


def test_web_pages_refuse_anonymous(client: Any, base: dict[str, Any]) -> None:
    for name, (spec, expected) in WEB_ROUTES.items():
        url = reverse(name, kwargs=_web_kwargs(spec, base) or None)
        response = client.get(url)
        assert response.status_code == expected, (name, response.status_code)
        if expected == 405 and name != f"{WEB}:logout":
            response = client.post(url)  # the POST-only pages: anonymous goes to the login page
            expected = 302
            assert response.status_code == 302, (name, response.status_code)
        if expected == 302:
            assert reverse(f"{WEB}:login") in response["Location"], name


@pytest.mark.parametrize("name", sorted(WEB_OBJECT_PAGES))
def test_web_not_yours_is_identical_to_missing(
    name: str, client: Any, base: dict[str, Any], reader_a: Any
) -> None:
    client.force_login(reader_a)
    arg = next(iter(WEB_ROUTES[name][0]))
    mine = client.get(reverse(name, kwargs={arg: base[WEB_OBJECT_PAGES[name]].pk}))
    missing = client.get(reverse(name, kwargs={arg: NONEXISTENT}))
    assert mine.status_code == missing.status_code == 404
    # The page carries a fresh (masked) CSRF token on every request; everything else is equal.
    assert _CSRF.sub(b"<csrf>", mine.content) == _CSRF.sub(b"<csrf>", missing.content)


# --- side channels --------------------------------------------------------------------------


#: Object routes where reader A is refused as "not found" (not the trial-scoped 403s).
OBJECT_ROUTES = [
    name
    for name, route in API_ROUTES.items()
    if route.target and route.target != "trial" and next(iter(route.methods.values()))[0] == 404
]


def test_not_yours_is_byte_identical_to_missing(
    world: dict[str, Any], reader_a: Any, manager: Any, adjudicator: Any, api: Any
) -> None:
    """Reader A on an object A may not see and on an id that does not exist: same status,
    same bytes, same headers, for every method each route allows (T-BLIND-SIDECHANNEL)."""
    # A has a read of S-001 and S-ADJ, so those subjects are visible to A; use one without.
    hidden_subject = trial_services.subject_create(
        trial_id=world["trial"].pk,
        site_id=world["twr"].site.pk,
        subject_code="S-002",
        randomisation_date=dt.date(2025, 2, 1),
        actor=manager,
    )
    users = {"reader_a": reader_a, "adjudicator": adjudicator}
    client = api["reader_a"]
    checked = 0
    for name in OBJECT_ROUTES:
        route = API_ROUTES[name]
        target = hidden_subject if route.target == "subject" else world[route.target]  # type: ignore[index]
        for method in route.methods:
            body = _body(name, "reader_a", users)
            tag = _current_etag(target)
            mine = request(client, method, _url(name, target.pk), body, tag)
            missing = request(client, method, _url(name, NONEXISTENT), body, tag)
            assert mine.status_code == missing.status_code == 404, (name, method, mine.status_code)
            assert mine.content == missing.content == b'{"detail":"Not found."}', (name, method)
            assert dict(mine.headers) == dict(missing.headers), (name, method)
            checked += 1
    assert checked >= 12


def test_denials_are_audited(base: dict[str, Any], api: Any, reader_a: Any) -> None:
    """T-AUTHZ-AUDIT: a 404-for-authz and a 403 each write ACCESS_DENIED."""
    before = AuditEvent.objects.filter(event_type=AuditEventType.ACCESS_DENIED, actor_id=reader_a.pk).count()
    assert api["reader_a"].get(f"/api/reads/{base['read_b'].pk}/").status_code == 404
    assert api["reader_a"].get(f"/api/trials/{base['trial'].pk}/audit/").status_code == 403
    after = AuditEvent.objects.filter(event_type=AuditEventType.ACCESS_DENIED, actor_id=reader_a.pk).count()
    assert after == before + 2


# --- lists ------------------------------------------------------------------------------------


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


LIST_QUERIES = [
    "",
    "?search=S-001",
    "?search=reader_b",
    "?ordering=-created_at",
    "?ordering=subject__subject_code",
    "?status=IN_PROGRESS",
    "?limit=1&offset=0",
    "?limit=1&offset=1",
    "?trial={trial}",
    "?subject={subject}",
    "?subject={subject}&ordering=-status&limit=5&offset=0&search=S",
]


def test_reader_lists_only_own_reads(base: dict[str, Any], api: Any) -> None:
    for query in LIST_QUERIES:
        url = "/api/reads/" + query.format(trial=base["trial"].pk, subject=base["subject"].pk)
        response = api["reader_a"].get(url)
        ids = _ids(response)
        assert base["read_b"].pk not in ids, query
        assert set(ids) <= {base["read_a"].pk}, query
        assert response.json()["count"] <= 1, query


def test_reader_filter_does_not_reveal_other_reader(
    base: dict[str, Any], api: Any, reader_b: Any, reader_a: Any
) -> None:
    """``?reader=<B>`` answers exactly like ``?reader=<nobody>``, for reader A and for the
    adjudicator (who must not learn which read is whose)."""
    for role, other in (("reader_a", reader_b), ("adjudicator", reader_a), ("adjudicator", reader_b)):
        client = api[role]
        real = client.get(f"/api/reads/?reader={other.pk}")
        fake = client.get(f"/api/reads/?reader={NONEXISTENT}")
        assert real.status_code == fake.status_code == 200
        assert real.content == fake.content, role
    # The manager may filter by reader.
    assert _ids(api["manager"].get(f"/api/reads/?reader={reader_b.pk}")) == [base["read_b"].pk]


#: Object routes whose ``<pk>`` is a read or a timepoint read.
READ_ROUTES = [name for name, route in API_ROUTES.items() if route.target in {"read_b", "tr_b0", "tr_b1"}]


def _read_targets(subject: Any) -> dict[str, list[int]]:
    """The read and timepoint-read ids of ``subject``, by the kind of ``<pk>`` a route takes."""
    reads = list(Read.objects.filter(subject=subject).values_list("pk", flat=True))
    trs = list(TimepointRead.objects.filter(read__subject=subject).values_list("pk", flat=True))
    return {"read_b": reads, "tr_b0": trs, "tr_b1": trs}


def test_adjudicator_responses_carry_no_read_identity(
    distinct_ids: None, world: dict[str, Any], adjudicator: Any, api: Any
) -> None:
    """With a case open, nothing the adjudicator can fetch orders or names the two reads:
    no read, timepoint-read, lesion, value, rating or signature id, no reader's username or
    name, no slot, no "RADIOLOGIST n", no creation or signing time (ids are moved far apart
    by ``distinct_ids`` so that any leaked one is a plain substring). Every API route, every
    method it allows, on the fixture's objects and on every read of both subjects."""
    case = world["case"]
    needles = {**read_identifiers(world["subject"]), **read_identifiers(case.subject)}
    users = {"adjudicator": adjudicator}
    client = api["adjudicator"]
    found, seen = [], 0

    def check(method: str, url: str, body: Any = None) -> Any:
        nonlocal seen
        with transaction.atomic():
            response = request(client, method, url, body)
            transaction.set_rollback(True)
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        found.extend(
            f"{method} {url} -> {response.status_code}: {leak}"
            for leak in leaks(response.content + headers.encode(), needles)
        )
        seen += 1
        return response

    for name, route in API_ROUTES.items():
        if name in {"trialreads-api:schema", "trialreads-api:docs"}:  # the same public document for everyone
            continue
        targets: list[int | None] = [world[route.target].pk if route.target else None]
        if name in READ_ROUTES:
            targets += _read_targets(case.subject)[route.target]  # type: ignore[index]
        for target in targets:
            for method in route.methods:
                body = _body(name, "adjudicator", users) if method in {"POST", "PUT", "PATCH"} else None
                check(method, _url(name, target), body)
    # The case as the adjudicator works on it: list, side by side, refused and accepted decisions.
    detail = reverse("trialreads-api:adjudication-detail", kwargs={"pk": case.pk})
    decide = reverse("trialreads-api:adjudication-decide", kwargs={"pk": case.pk})
    assert check("GET", detail).status_code == 200
    assert check("GET", "/api/adjudications/?status=OPEN").json()["count"] == 1
    check("POST", decide, {"chosen": "C", "rationale": "", "password": "", "printed_name": ""})
    signed_body = _body("trialreads-api:adjudication-decide", "adjudicator", users)
    check("POST", decide, {**signed_body, "password": "wrong"})
    response = request(client, "POST", decide, signed_body)
    assert response.status_code == 200, response.content
    assert check("GET", detail).json()["case"]["decision"]["chosen"] == "A"
    assert not found, "\n".join(found)
    assert seen > len(API_ROUTES)


@pytest.mark.parametrize("name", READ_ROUTES)
def test_adjudicator_gets_the_missing_404_on_the_reads_they_adjudicate(
    name: str, world: dict[str, Any], adjudicator: Any, api: Any
) -> None:
    """The plain read routes answer the adjudicator exactly as for an id that does not exist
    (status, bytes, headers), for both reads of the open case, signed timepoints included:
    the reads reach them only through the case, as "Read A" / "Read B"."""
    case_subject = world["case"].subject
    client = api["adjudicator"]
    route = API_ROUTES[name]
    for target in _read_targets(case_subject)[route.target]:  # type: ignore[index]
        for method in route.methods:
            body = _body(name, "adjudicator", {"adjudicator": adjudicator})
            mine = request(client, method, _url(name, target), body, f'"tr{target}-v1"')
            missing = request(client, method, _url(name, NONEXISTENT), body, f'"tr{target}-v1"')
            assert mine.status_code == missing.status_code == 404, (name, method, mine.status_code)
            assert mine.content == missing.content == b'{"detail":"Not found."}', (name, method)
            assert dict(mine.headers) == dict(missing.headers), (name, method)
    assert _ids(client.get("/api/reads/")) == []


def test_adjudicator_sees_nothing_before_both_sign(
    trial_with_reads: TrialWithReads, api: Any, reader_a: Any
) -> None:
    tr = trial_with_reads.tr(trial_with_reads.read_a, 0)
    save_baseline(tr, reader_a)
    sign(tr, reader_a)
    assert _ids(api["adjudicator"].get("/api/reads/")) == []
    assert api["adjudicator"].get(f"/api/timepoint-reads/{tr.pk}/").status_code == 404


def test_arm_only_for_sponsor(base: dict[str, Any], api: Any) -> None:
    url = f"/api/trials/{base['trial'].pk}/subjects/"
    for role in ("reader_a", "reader_b", "adjudicator", "manager"):
        results = api[role].get(url).json()["results"]
        assert results and all(item["arm"] is None for item in results), role
        assert b"EXPERIMENTAL" not in api[role].get(f"/api/subjects/{base['subject'].pk}/").content
    assert [s["arm"] for s in api["sponsor"].get(url).json()["results"]] == ["EXPERIMENTAL"]


def test_reader_sees_only_own_membership(base: dict[str, Any], api: Any, reader_a: Any) -> None:
    url = f"/api/trials/{base['trial'].pk}/memberships/"
    assert [m["user_id"] for m in api["reader_a"].get(url).json()["results"]] == [reader_a.pk]
    assert api["manager"].get(url).json()["count"] == 5
