"""Uniform 404 (issue 13, item 4): for every route of the API and of the web pages, every
role and every method, an existing object the role may not see answers exactly like an id
that does not exist (rule 1 of ``trialreads/access.py``).

The routes are found by walking the URL resolver, not listed here: each ``<int:...>`` path
argument is filled, per role, with the id of an object of that kind hidden from the role
(in the fixture trial when the role may not see it there, e.g. the export batch for a
reader; otherwise in a second trial the role is not a member of) and with an id that does
not exist. Every request runs in a rolled-back savepoint, so all cells see the same state.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from typing import Any

from django.db import transaction
from django.test import Client
from django.urls import resolve

from tests.conftest import make_subject_with_reads
from tests.factories import UserFactory
from tests.trialreads.api.conftest import client_for
from tests.trialreads.api.test_blinding_matrix import (
    METHODS,
    NONEXISTENT,
    ROLES,
    _body,
    _current_etag,
    all_routes,
    request,
)
from tests.trialreads.services.test_adjudication_service import PD, PR, both
from trialreads.choices import TrialRole
from trialreads.models import AdjudicationCase
from trialreads.models.endpoint import EndpointJob
from trialreads.services import confirmation as confirmation_services
from trialreads.services import endpoints as endpoint_services
from trialreads.services import exports as export_services
from trialreads.services import trials as trial_services

API, WEB = "trialreads-api", "trialreads-web"

#: ``<segment>/<int:pk>`` (API) -> kind of object.
KIND_BY_SEGMENT = {
    "trials": "trial",
    "subjects": "subject",
    "reads": "read",
    "timepoint-reads": "timepoint_read",
    "adjudications": "case",
    "endpoint-jobs": "job",
    "exports": "batch",
    "sponsor-contacts": "contact",
}
#: Web pages name their argument after the kind.
KIND_BY_ARG = {
    "trial_id": "trial",
    "subject_id": "subject",
    "read_id": "read",
    "tr_id": "timepoint_read",
    "case_id": "case",
    "batch_id": "batch",
}
#: Who may see the fixture trial's object of each kind (the subject is S-002, which has no
#: read; the read and timepoint read are reader B's; the case is assigned to the adjudicator).
VISIBLE_IN_TRIAL = {
    "trial": {"reader_a", "reader_b", "adjudicator", "manager", "sponsor"},
    "subject": {"adjudicator", "manager", "sponsor"},
    "read": {"reader_b", "manager"},
    "timepoint_read": {"reader_b", "manager"},
    "case": {"adjudicator", "manager"},
    "job": {"manager", "sponsor"},
    "batch": {"manager", "sponsor"},
    "contact": {"manager"},
}
_ARG = re.compile(r"(?:([\w-]+)/)?<(int|str|path):(\w+)>")


def object_args(pattern: str) -> list[tuple[str, str | None]]:
    """(argument, kind) of each path argument of ``pattern``; kind ``None`` for a file name."""
    out = []
    for segment, converter, arg in _ARG.findall(pattern):
        if converter != "int":
            out.append((arg, None))
        else:
            out.append((arg, KIND_BY_ARG.get(arg) or KIND_BY_SEGMENT[segment]))
    return out


def methods_of(path: str) -> tuple[str, ...]:
    """The methods to try on ``path``: those its view implements. Any other is refused with
    405 before the view runs (by DRF's dispatcher, or by the ``require_http_methods``
    wrapper of a page), so it cannot depend on the object; the blinding matrix checks those
    405s. A view that declares nothing is tried with every method."""
    func = resolve(path).func
    view = getattr(func, "cls", None)
    if view is not None:
        # HEAD runs the view's ``get`` (Django's ``View.setup``): the GET cell covers it.
        return tuple(m for m in METHODS if hasattr(view, m.lower()))
    allowed = inspect.getclosurevars(func).nonlocals.get("request_method_list")
    return tuple(m for m in METHODS if m in allowed) if allowed else METHODS


def swept_routes() -> list[tuple[str, str, str]]:
    """(namespace, name, pattern) of every API and web route with an object in its path."""
    return [
        (ns, name, pattern)
        for ns, name, pattern in all_routes()
        if ns in (API, WEB) and any(kind for _, kind in object_args(pattern))
    ]


def test_the_sweep_sees_every_object_route() -> None:
    """Guard: the walker finds the object routes of both URLconfs and knows every kind."""
    routes = swept_routes()
    names = {name for _, name, _ in routes}
    assert {f"{API}:export-detail", f"{API}:export-file", f"{API}:endpoint-job-detail"} <= names
    assert {f"{WEB}:export-progress", f"{WEB}:export-download", f"{WEB}:read"} <= names
    assert len([r for r in routes if r[0] == API]) >= 30 and len([r for r in routes if r[0] == WEB]) >= 15
    kinds = {kind for _, _, pattern in routes for _, kind in object_args(pattern)} - {None}
    assert kinds == set(VISIBLE_IN_TRIAL)
    assert methods_of("/reads/1/") == ("GET",) and methods_of("/api/exports/1/") == ("GET", "OPTIONS")


def _second_trial() -> dict[str, Any]:
    """ONC-002 with objects of every kind; none of the matrix's personas is a member."""
    staff = {role: UserFactory(username=f"{role}_2") for role in ("manager", "reader_c", "reader_d", "judge")}
    staff["manager"].is_staff = True
    staff["manager"].save(update_fields=["is_staff"])
    trial = trial_services.trial_create(
        code="ONC-002",
        title="Oncology trial 2",
        actor=staff["manager"],
        charter={"criteria": ["recist1.1", "irecist", "imrecist"]},
        effective_from=dt.date(2025, 1, 1),
    )
    readers = (staff["reader_c"], staff["reader_d"])
    members = zip(
        (*readers, staff["judge"]), (TrialRole.READER, TrialRole.READER, TrialRole.ADJUDICATOR), strict=True
    )
    for user, role in members:
        trial_services.membership_add(trial_id=trial.pk, user_id=user.pk, role=role, actor=staff["manager"])
    tw = make_subject_with_reads(trial, staff["manager"], readers, code="S-201", followups=1)
    both(tw, readers, 0)
    both(tw, readers, 1, PR, PD)
    endpoint_services.endpoints_compute(trial_id=trial.pk, task_id="fixture-2")
    batch = export_services.export_request(trial_id=trial.pk, actor=staff["manager"])
    export_services.export_build(batch_id=batch.pk, task_id="fixture-2")
    contact = confirmation_services.sponsor_contact_create(
        trial_id=trial.pk, name="Desk 2", email="desk2@sponsor.example", actor=staff["manager"]
    )
    return {
        "contact": contact,
        "trial": trial,
        "subject": tw.subject,
        "read": tw.read_b,
        "timepoint_read": tw.tr(tw.read_b, 0),
        "case": AdjudicationCase.objects.get(subject=tw.subject),
        "job": EndpointJob.objects.get(trial=trial),
        "batch": batch,
    }


def test_hidden_objects_answer_like_missing_ones(
    world: dict[str, Any],
    reader_a: Any,
    reader_b: Any,
    adjudicator: Any,
    manager: Any,
    sponsor: Any,
    outsider: Any,
) -> None:
    users = {
        "reader_a": reader_a,
        "reader_b": reader_b,
        "adjudicator": adjudicator,
        "manager": manager,
        "sponsor": sponsor,
        "outsider": outsider,
    }
    hidden_subject = trial_services.subject_create(
        trial_id=world["trial"].pk,
        site_id=world["twr"].site.pk,
        subject_code="S-002",
        randomisation_date=dt.date(2025, 2, 1),
        actor=manager,
    )
    in_trial = {
        "trial": world["trial"],
        "subject": hidden_subject,
        "read": world["read_b"],
        "timepoint_read": world["tr_b0"],
        "case": world["case"],
        "job": world["job"],
        "batch": world["batch"],
        "contact": world["contact"],
    }
    elsewhere = _second_trial()
    routes = swept_routes()
    failures: list[str] = []
    cells = 0
    for role in ROLES:
        user = users.get(role)
        api = client_for(user)
        web = Client()
        if user is not None:
            web.force_login(user)
        for namespace, name, pattern in routes:
            args = object_args(pattern)
            hidden = {
                kind: (elsewhere if role in VISIBLE_IN_TRIAL[kind] else in_trial)[kind]
                for _, kind in args
                if kind is not None
            }
            etag = next((_current_etag(obj) for obj in hidden.values() if _current_etag(obj)), None)
            urls = []
            for ids in ({k: obj.pk for k, obj in hidden.items()}, dict.fromkeys(hidden, NONEXISTENT)):
                path = "/" + pattern
                for arg, kind in args:
                    value = "manifest.json" if kind is None else str(ids[kind])
                    path = re.sub(rf"<\w+:{arg}>", value, path)
                urls.append(path)
            for method in methods_of(urls[1]):
                body = (
                    _body(name, role, users)
                    if namespace == API and method in {"POST", "PUT", "PATCH"}
                    else None
                )
                answers = []
                for url in urls:
                    with transaction.atomic():
                        if namespace == API:
                            response = request(api, method, url, body, etag)
                        else:
                            response = getattr(web, method.lower())(url)
                        transaction.set_rollback(True)
                    answers.append(response)
                cells += 1
                mine, missing = answers
                same = mine.status_code == missing.status_code
                if same and namespace == API and mine.status_code >= 400:
                    same = mine.content == missing.content
                if not same:
                    failures.append(
                        f"{method} {name} as {role}: hidden {mine.status_code} {mine.content[:80]!r}"
                        f" != missing {missing.status_code} {missing.content[:80]!r}"
                    )
    assert not failures, "\n".join(failures)
    assert cells >= len(ROLES) * len(routes)
