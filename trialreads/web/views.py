"""Server-rendered pages and htmx fragments: presentation only.

Every GET goes through a selector (and so through ``trialreads.access``); every POST calls
one service. Domain errors map to HTTP as in the API: ``NotFound`` -> 404 (identical for
"not yours" and "does not exist", which is what keeps reader B off reader A's read),
``PermissionDenied`` -> 403, ``ValidationError`` -> the form again with each message next
to its field, ``Conflict`` -> the page again with the message.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from criteria.serialize import criterion_json
from criteria.types import TimepointResult
from trialreads import access, conf, validators
from trialreads.choices import AcceptanceBasis, AdjudicationStatus, LesionKind, NonTargetStatus, TrialRole
from trialreads.errors import Conflict, NotFound, PermissionDenied, ValidationError
from trialreads.middleware import note_denial
from trialreads.models import TimepointRead
from trialreads.selectors import adjudication as adjudication_selectors
from trialreads.selectors import confirmation as confirmation_selectors
from trialreads.selectors import endpoints as endpoint_selectors
from trialreads.selectors import trials as trial_selectors
from trialreads.selectors import web as web_selectors
from trialreads.services import adjudication as adjudication_services
from trialreads.services import endpoint_requests as endpoint_request_services
from trialreads.services import exports as export_services
from trialreads.services import reads as read_services

from . import criteria_display as display
from . import forms, plots
from .criteria_display import CRITERIA_LABELS

HttpView = Callable[..., HttpResponseBase]
#: The growth-family analyses' flags as the dashboard names them (``endpoint_results.Flags``).
ANALYSIS_LABELS = {
    "pseudoprogression": "Pseudoprogression",
    "hyperprogression": "Hyperprogression",
    "dissociated_response": "Dissociated response",
}
HPD_LABELS = {
    "champiat2017": "Champiat 2017",
    "saada_bouzid2017": "Saâda-Bouzid 2017",
    "ferrara2018": "Ferrara 2018",
    "kas2020": "Kas 2020",
    "kato2017": "Kato 2017",
    "lo_russo2019": "Lo Russo 2019",
}


def _svg(markup: str) -> SafeString:
    """Plots from ``plots`` are safe to embed: every text they contain is escaped there."""
    return mark_safe(markup)  # noqa: S308


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _full_name(request: HttpRequest) -> str:
    return str(getattr(request.user, "get_full_name", str)())


def domain_errors(view: HttpView) -> HttpView:
    """Map the gate's errors to Django's 404/403 pages (the 404 carries no detail), noting
    the gate's refusals for ``AccessDenialAuditMiddleware`` (which records them after the
    view's transaction). A view that catches a ``PermissionDenied`` itself to answer on its
    form notes it too (``note_denial``).

    A POST runs in one transaction with its page rendered inside it (``render()`` renders at
    once), so a page that fails rolls the write back rather than answering 500 after the
    commit (issue 13). The gate's refusals leave the block normally (what a service recorded
    before refusing, such as a failed signature, commits) and are raised after it."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            if request.method in ("GET", "HEAD", "OPTIONS"):
                return view(request, *args, **kwargs)
            refused: NotFound | PermissionDenied | None = None
            with transaction.atomic():
                try:
                    response = view(request, *args, **kwargs)
                except (NotFound, PermissionDenied) as exc:
                    refused = exc
            if refused is not None:
                raise refused
            return response
        except NotFound as exc:
            note_denial(request, exc)
            raise Http404() from exc
        except PermissionDenied as exc:
            note_denial(request, exc)
            raise DjangoPermissionDenied(exc.message) from exc

    return wrapper


def page(view: HttpView) -> HttpView:
    return login_required(domain_errors(view))


# --- login ---------------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Django's login page; a locked-out username+address gets the form again with the
    lockout message and status 429 (``forms.LoginForm``: django-axes, audited)."""

    template_name = "trialreads/registration/login.html"
    authentication_form = forms.LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if getattr(form, "locked_out", False):
            response.status_code = 429
        return response


# --- worklist ------------------------------------------------------------------------------------


@require_GET
@page
def worklist(request: HttpRequest) -> HttpResponse:
    """One page per person: each section appears for a role the user holds in some trial."""
    user = request.user
    roles = web_selectors.roles_of(user)
    context: dict[str, Any] = {"roles": roles}
    if TrialRole.READER in roles:
        context["reads"] = web_selectors.reader_worklist(user=user)
    if TrialRole.ADJUDICATOR in roles:
        context["cases"] = list(web_selectors.adjudicator_worklist(user=user))
        context["decided_cases"] = list(web_selectors.adjudicator_decided(user=user))
    if TrialRole.MANAGER in roles:
        context["managed"] = web_selectors.manager_trials(user=user)
    if TrialRole.SPONSOR_VIEWER in roles:
        context["sponsored"] = list(web_selectors.sponsor_trials(user=user))
    if roles & {TrialRole.MANAGER, TrialRole.SPONSOR_VIEWER}:
        # Open windows of the trials where the role sees them (never a reader's: blinding).
        context["confirmation_windows"] = confirmation_selectors.confirmation_windows_open(user=user)
    return render(request, "trialreads/web/worklist.html", context)


# --- reads ----------------------------------------------------------------------------------------


@require_GET
@page
def read_detail(request: HttpRequest, read_id: int) -> HttpResponse:
    """One read (its reader's own, or any for the read manager): every criterion of the
    charter side by side per timepoint with the engine's explanation, and a spider plot."""
    read = web_selectors.read_page_get(user=request.user, read_id=read_id)
    trs = web_selectors.read_page_timepoint_reads(user=request.user, read=read)
    results, engine_error = web_selectors.read_results(user=request.user, read=read)
    settings = web_selectors.charter_settings(user=request.user, trial_id=read.subject.trial_id)
    rows = _response_rows(trs, results)
    spider = _read_spider(results, read.subject.subject_code, f"spider-read-{read.pk}", trs, settings)
    return render(
        request,
        "trialreads/web/read_detail.html",
        {
            "read": read,
            "timepoint_reads": trs,
            "rows": rows,
            "criteria": display.labelled(list(results)),
            "summary": _summary(results),
            "spider": spider,
            "criteria_labels": CRITERIA_LABELS,
            "engine_error": engine_error,
        },
    )


def _cells_by_date(results: dict[str, Any]) -> dict[dt.date, dict[str, display.Cell]]:
    by_date: dict[dt.date, dict[str, display.Cell]] = defaultdict(dict)
    for name, result in results.items():
        for tp in result.timepoints:
            by_date[tp.date][name] = display.cell(name, tp)
    return by_date


def _in_time_order(timepoint: Any) -> tuple[int, Any]:
    """Pre-baseline scans (by date) before the baseline and its follow-ups (in sequence)."""
    return (0, timepoint.scan_date_latest) if timepoint.is_prebaseline else (1, timepoint.sequence)


def _prebaseline_sum(tr: TimepointRead) -> str | None:
    """A pre-baseline scan's target sum as the reader gave it (the sum, or its targets')."""
    if tr.prebaseline_sum_mm is not None:
        return display.mm(tr.prebaseline_sum_mm)
    values = [m.value_mm for m in tr.measurements.all() if m.value_mm is not None]
    return display.mm(sum(values, start=Decimal(0))) if values else None


def _response_rows(trs: list[TimepointRead], results: dict[str, Any]) -> list[dict[str, Any]]:
    """Timepoint by timepoint: each criterion's response, numbers and explanation."""
    by_date = _cells_by_date(results)
    return [
        {
            "tr": tr,
            "per_criterion": [by_date.get(tr.timepoint.scan_date_latest, {}).get(n) for n in results],
            "prebaseline_sum": _prebaseline_sum(tr) if tr.timepoint.is_prebaseline else None,
        }
        for tr in sorted(trs, key=lambda tr: _in_time_order(tr.timepoint))
    ]


def _summary(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per criterion: the derived endpoints and the criterion-level extras (itRECIST's
    injected / non-injected best responses)."""
    return [
        {
            "criterion": name,
            "label": display.label(name),
            "json": criterion_json(result),
            "details": display.extra_details(result.extra),
        }
        for name, result in results.items()
    ]


def _series(
    measure: display.Measure,
    timepoints: Sequence[TimepointResult],
    day0: dt.date,
    subject: str,
    response: str | None,
) -> plots.SpiderSeries:
    """One subject's measured changes from baseline (days since ``day0``)."""
    points, notes = [], []
    for tp in timepoints:
        change = measure.change(tp)
        if change is not None:
            points.append(((tp.date - day0).days, change))
            notes.append(measure.note(tp))
    return plots.SpiderSeries(subject, tuple(points), response, tuple(notes))


def _read_spider(
    results: dict[str, Any], subject: str, uid: str, trs: list[TimepointRead], settings: Any
) -> str:
    """The spider plot of the criterion with the most measured changes (RECIST 1.1 stops at
    PD while iRECIST goes on), first in charter order on ties."""
    baseline = next((tr.timepoint for tr in trs if tr.timepoint.is_baseline), None)
    if baseline is None:
        return ""
    best: tuple[str, display.Measure, plots.SpiderSeries] | None = None
    for name, result in results.items():
        measure = display.measure(name, settings)
        if measure is None:
            continue
        series = _series(measure, result.timepoints, baseline.scan_date_latest, subject, result.bor)
        if best is None or len(series.points) > len(best[2].points):
            best = (name, measure, series)
    if best is None:
        return ""
    name, measure, series = best
    return _svg(
        plots.spider_svg(
            [series],
            uid=uid,
            title=f"{display.label(name)}: change of {measure.what} from baseline",
            references=measure.references,
        )
    )


CtForm = forms.BaselineForm | forms.FollowupForm | forms.PrebaselineForm


@dataclass
class PageForms:
    """The read page's forms: the CT form (baseline, follow-up or pre-baseline; none for a
    PET-only charter's PET/CT timepoint) and the PET form of a PET/CT timepoint whose
    charter names a PET criterion. One HTML form holds both; each is saved by its own
    service ("Save draft" / "Save PET scan"), and neither clears the other."""

    ct: CtForm | None
    pet: forms.PetForm | None

    def field_ids(self) -> set[str]:
        return (self.ct.field_ids() if self.ct else set()) | (self.pet.field_ids() if self.pet else set())

    def errors(self) -> dict[str, list[str]]:
        return {**(self.ct.errors if self.ct else {}), **(self.pet.errors if self.pet else {})}


def _options(ctx: web_selectors.FormContext) -> forms.ReadOptions:
    return forms.ReadOptions(
        target_rows=ctx.target_rows,
        second_diameters=ctx.bidimensional,
        injection=ctx.injection,
        injected_before=ctx.injected_before,
    )


def _forms_for(tr: TimepointRead, ctx: web_selectors.FormContext, data: Any | None) -> PageForms:
    pet = None
    if ctx.pet_form:
        pet = forms.PetForm.initial(tr) if data is None else forms.PetForm(data)
    return PageForms(_ct_form_for(tr, ctx, data) if ctx.ct_form else None, pet)


def _ct_form_for(tr: TimepointRead, ctx: web_selectors.FormContext, data: Any | None) -> CtForm:
    options = _options(ctx)
    ct_values = [m for m in tr.measurements.all() if m.lesion.kind != LesionKind.PET]
    if tr.timepoint.is_baseline:
        if data is None:
            return forms.BaselineForm.initial(ct_values, list(tr.ratings.all()), options)
        return forms.BaselineForm(data, options=options)
    target_codes = [row.lesion.lesion_code for row in ctx.targets]
    if ctx.is_prebaseline:
        if data is None:
            return forms.PrebaselineForm.initial(target_codes, ct_values, tr.prebaseline_sum_mm)
        return forms.PrebaselineForm(data, target_codes)
    non_target_codes = [row.lesion.lesion_code for row in ctx.non_targets]
    if data is None:
        return forms.FollowupForm.initial(
            target_codes, non_target_codes, ct_values, list(tr.ratings.all()), options
        )
    return forms.FollowupForm(data, target_codes, non_target_codes, options)


def _ct_rows(form: CtForm | None, ctx: web_selectors.FormContext) -> dict[str, Any]:
    if isinstance(form, forms.BaselineForm):
        return forms.baseline_rows(form)
    if isinstance(form, forms.PrebaselineForm):
        return forms.prebaseline_rows(form, ctx.targets)
    if isinstance(form, forms.FollowupForm):
        return forms.followup_rows(form, ctx.targets, ctx.non_targets)
    return {}


def _form_page(
    request: HttpRequest,
    tr: TimepointRead,
    ctx: web_selectors.FormContext,
    page_forms: PageForms,
    *,
    sign_form: forms.SignForm | None = None,
    sign_open: bool = False,
    unlock_form: forms.UnlockForm | None = None,
    status: int = 200,
) -> HttpResponse:
    editable = web_selectors.can_edit(request.user, tr)
    # The engine's problems join the form's errors before the inputs are rendered.
    preview = _preview(request, tr, ctx, page_forms) if editable else None
    form = page_forms.ct
    rows = _ct_rows(form, ctx)
    signature = next((s for s in tr.signatures.all() if s.voided_at is None), None)
    if sign_form is None:
        sign_form = forms.SignForm(initial={"printed_name": _full_name(request)})
    return render(
        request,
        "trialreads/web/timepoint_read.html",
        {
            "tr": tr,
            "read": tr.read,
            "ctx": ctx,
            "form": form,
            "rows": rows,
            "pet_form": page_forms.pet,
            "pet": forms.pet_rows(page_forms.pet) if page_forms.pet else None,
            "second": rows.get("second", False),
            "injection": rows.get("injection", False),
            "non_field_errors": form.errors.get(forms.NON_FIELD, []) if form else [],
            "editable": editable,
            "signable": editable and tr.saved_at is not None and not ctx.earlier_unsigned,
            "signature": signature,
            "sign_form": sign_form,
            "sign_open": sign_open,
            "can_unlock": tr.locked
            and access.has_capability(request.user, tr.read.subject.trial_id, access.UNLOCK),
            "unlock_form": unlock_form or forms.UnlockForm(),
            "meaning": conf.get("DEFAULT_SIGNATURE_MEANING"),
            "nt_statuses": NonTargetStatus.choices,
            "states": forms.FOLLOWUP_STATES,
            "prebaseline_states": forms.PREBASELINE_STATES,
            "reference_sites": forms.PET_REFERENCE_SITES,
            "preview": preview,
            "criteria_labels": CRITERIA_LABELS,
        },
        status=status,
    )


def _preview(
    request: HttpRequest,
    tr: TimepointRead,
    ctx: web_selectors.FormContext,
    page_forms: PageForms,
) -> web_selectors.Preview:
    """Parse the forms as typed and ask the criteria rules and engine about them; their
    problems join each form's own errors next to the fields. A PET form left blank is not
    checked yet (the CT form of the same timepoint may be what the reader is typing)."""
    form, pet_form = page_forms.ct, page_forms.pet
    scan = None
    if pet_form is not None and not pet_form.blank():
        scan = pet_form.parse()
        if pet_form.errors:
            scan = None
    if tr.timepoint.is_baseline:
        targets, non_targets = form.parse() if isinstance(form, forms.BaselineForm) else (None, [])
        preview = web_selectors.baseline_preview(
            user=request.user, ctx=ctx, targets=targets, non_targets=non_targets, pet=scan
        )
    elif isinstance(form, forms.PrebaselineForm):
        prebaseline = form.parse()
        if form.errors:
            return web_selectors.Preview()
        preview = web_selectors.prebaseline_preview(user=request.user, ctx=ctx, scan=prebaseline)
    else:
        values, ratings, new, injected = (
            form.parse() if isinstance(form, forms.FollowupForm) else (None, {}, [], [])
        )
        if form is not None and form.errors:
            values = None  # the form's own errors first; the PET form may still be evaluated
            if scan is None:
                return web_selectors.Preview()
        preview = web_selectors.followup_preview(
            user=request.user,
            ctx=ctx,
            targets=values,
            non_targets=ratings,
            new_lesions=new,
            injected=injected,
            pet=scan,
        )
    if form is not None:
        form.place(preview.problems)
    if pet_form is not None:
        pet_form.place(preview.pet_problems)
    return preview


@require_http_methods(["GET", "POST"])
@page
def timepoint_read_form(request: HttpRequest, tr_id: int) -> HttpResponse:
    """The read form: baseline selection, follow-up measurement or pre-baseline scan, and a
    PET/CT timepoint's PET scan, each saved by its service."""
    tr = web_selectors.timepoint_read_page_get(user=request.user, timepoint_read_id=tr_id)
    ctx = web_selectors.timepoint_read_form_context(user=request.user, tr=tr)
    if request.method == "GET":
        return _form_page(request, tr, ctx, _forms_for(tr, ctx, None))
    page_forms = _forms_for(tr, ctx, request.POST)
    try:
        version: int | None = validators.parse_int(
            request.POST.get("version", ""), minimum=1, maximum=2**31 - 1
        )
    except ValueError:
        version = None
    saving: forms.PetForm | CtForm | None = page_forms.ct
    if page_forms.pet is not None and (request.POST.get("save") == "pet" or saving is None):
        saving = page_forms.pet
    if saving is None:
        raise Http404()
    try:
        if isinstance(saving, forms.PetForm):
            scan = saving.parse()
            if saving.errors:
                return _form_page(request, tr, ctx, page_forms, status=422)
            read_services.timepoint_read_save_pet(
                timepoint_read_id=tr.pk, scan=scan, expected_version=version, actor=request.user
            )
        elif isinstance(saving, forms.BaselineForm):
            targets, non_targets = saving.parse()
            if saving.errors:
                return _form_page(request, tr, ctx, page_forms, status=422)
            read_services.timepoint_read_save_baseline(
                timepoint_read_id=tr.pk,
                targets=targets,
                non_targets=non_targets,
                expected_version=version,
                actor=request.user,
            )
        elif isinstance(saving, forms.PrebaselineForm):
            prebaseline = saving.parse()
            if saving.errors:
                return _form_page(request, tr, ctx, page_forms, status=422)
            read_services.timepoint_read_save_prebaseline(
                timepoint_read_id=tr.pk, scan=prebaseline, expected_version=version, actor=request.user
            )
        else:
            values, ratings, new, injected = saving.parse()
            if saving.errors:
                return _form_page(request, tr, ctx, page_forms, status=422)
            read_services.timepoint_read_save_followup(
                timepoint_read_id=tr.pk,
                targets=values,
                non_targets=ratings,
                new_lesions=new,
                injected=injected,
                expected_version=version,
                actor=request.user,
            )
    except ValidationError as exc:
        saving.place(exc.problems)
        return _form_page(request, tr, ctx, page_forms, status=422)
    except Conflict as exc:
        saving.add(saving.non_field, exc.message)
        return _form_page(request, tr, ctx, page_forms, status=409)
    what = "PET scan saved" if isinstance(saving, forms.PetForm) else "saved"
    messages.success(request, f"{tr.timepoint.visit_label} {what}. Review the responses, then sign.")
    return redirect("trialreads-web:timepoint-read", tr_id=tr.pk)


@require_GET
@page
def timepoint_read_check(request: HttpRequest, tr_id: int) -> HttpResponse:
    """htmx: the live panel (sum, limits, responses, explanations) and every field's error
    slot (out-of-band), for the values as typed. Nothing is saved."""
    tr = web_selectors.timepoint_read_page_get(user=request.user, timepoint_read_id=tr_id)
    if not web_selectors.can_edit(request.user, tr):
        raise Http404()
    ctx = web_selectors.timepoint_read_form_context(user=request.user, tr=tr)
    page_forms = _forms_for(tr, ctx, request.GET)
    preview = _preview(request, tr, ctx, page_forms)
    errors = page_forms.errors()
    return render(
        request,
        "trialreads/web/_live.html",
        {
            "tr": tr,
            "ctx": ctx,
            "preview": preview,
            "form_errors": [(fid, errors.get(fid, [])) for fid in sorted(page_forms.field_ids())],
            "oob": True,
            "criteria_labels": CRITERIA_LABELS,
        },
    )


@require_GET
@page
def timepoint_read_row(request: HttpRequest, tr_id: int) -> HttpResponse:
    """htmx: one more blank non-target (baseline), new-lesion (follow-up) or PET-lesion
    (a PET/CT timepoint's PET form) row, focused, and the group's row count out of band."""
    tr = web_selectors.timepoint_read_page_get(user=request.user, timepoint_read_id=tr_id)
    group = request.GET.get("group", "")
    ctx = web_selectors.timepoint_read_form_context(user=request.user, tr=tr)
    expected = set()
    if ctx.ct_form and not ctx.is_prebaseline:
        expected.add("non_targets" if tr.timepoint.is_baseline else "new_lesions")
    if ctx.pet_form:
        expected.add("pet-lesions")
    try:
        index = validators.parse_int(request.GET.get(f"{group}-TOTAL", ""), minimum=0, maximum=forms.MAX_ROWS)
    except ValueError:
        index = -1
    if (
        not web_selectors.can_edit(request.user, tr)
        or group not in expected
        or not 0 <= index < forms.MAX_ROWS
    ):
        raise Http404()
    if group == "non_targets":
        row = forms.non_target_row(forms.RowForm({}), index)
    elif group == "pet-lesions":
        row = forms.pet_lesion_row(forms.RowForm({}), index)
    else:
        row = forms.new_lesion_row(forms.RowForm({f"new_lesions-{index}-measurable": "on"}), index)
    return render(
        request,
        "trialreads/web/_row.html",
        {
            "r": row,
            "group": group,
            "total": index + 1,
            "focus": row["code"].name,
            "second": ctx.bidimensional,
            "injection": ctx.injection,
        },
    )


@require_POST
@page
def timepoint_read_sign(request: HttpRequest, tr_id: int) -> HttpResponse:
    tr = web_selectors.timepoint_read_page_get(user=request.user, timepoint_read_id=tr_id)
    ctx = web_selectors.timepoint_read_form_context(user=request.user, tr=tr)
    sign_form = forms.SignForm(request.POST)
    if sign_form.is_valid():
        try:
            read_services.timepoint_read_sign(
                timepoint_read_id=tr.pk,
                password=sign_form.cleaned_data["password"],
                printed_name=sign_form.cleaned_data["printed_name"],
                actor=request.user,
            )
        except ValidationError as exc:
            for name, errs in exc.errors.items():
                sign_form.add_error(name if name in sign_form.fields else None, errs)
        except PermissionDenied as exc:
            # Wrong password or locked out: the message belongs to the password field.
            note_denial(request, exc)  # a refusal of the gate, if it was one
            sign_form.add_error("password", exc.message)
        except Conflict as exc:
            sign_form.add_error(None, exc.message)
        else:
            messages.success(request, f"{tr.timepoint.visit_label} signed and locked.")
            following = web_selectors.next_unsigned_timepoint_read(user=request.user, read_id=tr.read_id)
            if following is not None:
                return redirect("trialreads-web:timepoint-read", tr_id=following)
            return redirect("trialreads-web:read", read_id=tr.read_id)
    return _form_page(
        request, tr, ctx, _forms_for(tr, ctx, None), sign_form=sign_form, sign_open=True, status=422
    )


@require_POST
@page
def timepoint_read_unlock(request: HttpRequest, tr_id: int) -> HttpResponse:
    """Read manager: reopen a signed timepoint read with a reason (the signature is voided)."""
    tr = web_selectors.timepoint_read_page_get(user=request.user, timepoint_read_id=tr_id)
    form = forms.UnlockForm(request.POST)
    if form.is_valid():
        try:
            read_services.timepoint_read_unlock(
                timepoint_read_id=tr.pk, reason=form.cleaned_data["reason"], actor=request.user
            )
        except ValidationError as exc:
            for errs in exc.errors.values():
                form.add_error("reason", errs)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"{tr.timepoint.visit_label} unlocked; its signature is void.")
            return redirect("trialreads-web:timepoint-read", tr_id=tr.pk)
    ctx = web_selectors.timepoint_read_form_context(user=request.user, tr=tr)
    return _form_page(request, tr, ctx, _forms_for(tr, ctx, None), unlock_form=form, status=422)


# --- adjudication ------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@page
def adjudication_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    """Read A and Read B side by side (no reader identity), disagreements highlighted, a
    spider plot per read, and the signed decision."""
    data = adjudication_selectors.adjudication_side_by_side(user=request.user, case_id=case_id)
    case = adjudication_selectors.adjudication_case_get(user=request.user, case_id=case_id)
    form = forms.DecisionForm(
        request.POST if request.method == "POST" else None,
        initial={"printed_name": _full_name(request)},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                adjudication_services.adjudication_decide(
                    case_id=case.pk,
                    chosen=form.cleaned_data["chosen"],
                    rationale=form.cleaned_data["rationale"],
                    password=form.cleaned_data["password"],
                    printed_name=form.cleaned_data["printed_name"],
                    actor=request.user,
                )
            except ValidationError as exc:
                for name, errs in exc.errors.items():
                    form.add_error(name if name in form.fields else None, errs)
            except PermissionDenied as exc:
                note_denial(request, exc)  # a refusal of the gate, if it was one
                form.add_error("password", exc.message)
            except Conflict as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Adjudication of {case.subject.subject_code} signed.")
                return redirect("trialreads-web:adjudication", case_id=case.pk)
        status = 422
    return render(
        request,
        "trialreads/web/adjudication.html",
        {
            **_side_by_side(
                data, case, web_selectors.charter_settings(user=request.user, trial_id=case.subject.trial_id)
            ),
            "form": form,
            "decidable": case.status == AdjudicationStatus.OPEN and case.adjudicator_id == request.user.pk,
            "meaning": "I am the adjudicator of this subject and approve this decision.",
        },
        status=status,
    )


@require_POST
@page
def adjudication_assign(request: HttpRequest, case_id: int) -> HttpResponse:
    """Read manager: (re)assign an open case to one of the trial's adjudicators."""
    case = adjudication_selectors.adjudication_case_get(user=request.user, case_id=case_id)
    try:
        adjudicator_id = validators.parse_int(
            request.POST.get("adjudicator", ""), minimum=1, maximum=validators.ID_MAX
        )
        adjudication_services.adjudication_assign(
            case_id=case.pk, adjudicator_id=adjudicator_id, actor=request.user
        )
    except ValueError as exc:
        messages.error(request, f"{case.subject.subject_code}: adjudicator: {exc}")
    except (ValidationError, Conflict) as exc:
        messages.error(request, f"{case.subject.subject_code}: {exc.message}")
    else:
        messages.success(request, f"Adjudication of {case.subject.subject_code} assigned.")
    return redirect("trialreads-web:dashboard", trial_id=case.subject.trial_id)


def _side_by_side(data: dict[str, Any], case: Any, settings: Any) -> dict[str, Any]:
    """Rows of both reads, every criterion's cell with its numbers and explanation, and
    every cell where the two reads' responses differ flagged."""
    disagreements = data["case"]["disagreements"]
    flagged = {(d["criterion"], d["variable"]) for d in disagreements}
    overall: list[dict[tuple[str, str], str | None]] = []
    matched: list[list[dict[str, Any]]] = []
    timepoints: list[dict[str, list[Any]]] = []
    for read in data["reads"]:
        by_key: dict[tuple[str, str], str | None] = {}
        parsed = {
            name: [display.timepoint_from_json(t) for t in res["timepoints"]]
            for name, res in read["results"].items()
        }
        timepoints.append(parsed)
        rows = []
        for tp in read["timepoints"]:
            cells = []
            for name in read["results"]:
                match = next((t for t in parsed[name] if t.date == tp["scan_date_latest"]), None)
                by_key[(tp["visit"], name)] = match.overall if match else None
                cells.append((name, display.cell(name, match) if match else None))
            rows.append({"tp": tp, "cells": cells})
        overall.append(by_key)
        matched.append(rows)
    reads = []
    for i, read in enumerate(data["reads"]):
        other = overall[1 - i] if len(overall) == 2 else {}
        rows = [
            {
                "tp": row["tp"],
                "cells": [
                    (
                        name,
                        m,
                        (row["tp"]["visit"], name) in other
                        and other[(row["tp"]["visit"], name)] != overall[i][(row["tp"]["visit"], name)],
                    )
                    for name, m in row["cells"]
                ],
            }
            for row in matched[i]
        ]
        baseline = next((tp for tp in read["timepoints"] if tp["baseline"]), None)
        spider = ""
        best: tuple[str, display.Measure, plots.SpiderSeries] | None = None
        for name, res in read["results"].items():
            measure = display.measure(name, settings)
            if measure is None or baseline is None:
                continue
            series = _series(
                measure, timepoints[i][name], baseline["scan_date_latest"], read["label"], res.get("bor")
            )
            if best is None or len(series.points) > len(best[2].points):
                best = (name, measure, series)
        if best is not None:
            name, measure, series = best
            spider = _svg(
                plots.spider_svg(
                    [series],
                    uid=f"spider-{i}",
                    title=f"{read['label']}: change of {measure.what} from baseline ({display.label(name)})",
                    references=measure.references,
                )
            )
        summary = [
            {
                "criterion": name,
                "bor": res.get("bor"),
                "bor_confirmed": res.get("bor_confirmed"),
                "pfs": res.get("pfs"),
                "flag_bor": (name, "bor") in flagged,
                "flag_pd": any((name, v) in flagged for v in ("pd_date", "icpd_date", "impfs_event")),
            }
            for name, res in read["results"].items()
        ]
        reads.append(
            {
                "label": read["label"],
                "rows": rows,
                "summary": summary,
                "spider": spider,
                "criteria": list(read["results"]),
            }
        )
    return {
        "case": case,
        "case_data": data["case"],
        "disagreements": disagreements,
        "reads": reads,
        "criteria_labels": CRITERIA_LABELS,
    }


# --- trial dashboard ------------------------------------------------------------------------------


def _plot_data(user: Any, trial_id: int, criterion: str) -> dict[str, Any]:
    """The waterfall, spider and swimmer plots of one criterion over the accepted reads:
    the criterion's own quantity (``criteria_display.measure``: the target sum, irRC's tumour
    burden, PERCIST's hottest SULpeak, imPERCIST5's SULpeak sum) and thresholds."""
    results = [
        r for r in web_selectors.accepted_results(user=user, trial_id=trial_id) if r.criterion == criterion
    ]
    measure = display.measure(criterion, web_selectors.charter_settings(user=user, trial_id=trial_id))
    bars, series, lanes = [], [], []
    for r in results:
        code = r.subject.subject_code
        bor = r.result.bor_confirmed or r.result.bor
        if measure is not None:
            one = _series(measure, r.result.timepoints, r.baseline_date, code, bor)
            if one.points:
                best = min(range(len(one.points)), key=lambda i: one.points[i][1])
                bars.append(plots.WaterfallBar(code, one.points[best][1], bor, one.notes[best]))
            series.append(one)
        if r.result.timepoints:
            events = tuple(((tp.date - r.baseline_date).days, tp.overall) for tp in r.result.timepoints)
            lanes.append(plots.SwimmerLane(code, events[-1][0], not r.result.pfs.event, events))
    label = display.label(criterion)
    references = measure.references if measure is not None else ()
    what = measure.what if measure is not None else "the measure"
    empty = display.NO_MEASURE.format(label=label) if measure is None else ""
    return {
        "criterion": criterion,
        "label": label,
        "what": what,
        "count": len(results),
        "waterfall": _svg(
            plots.waterfall_svg(
                bars,
                uid=f"wf-{criterion}",
                title=f"{label}: best change of {what} from baseline",
                references=references,
                empty=empty,
            )
        ),
        "spider": _svg(
            plots.spider_svg(
                series,
                uid=f"sp-{criterion}",
                title=f"{label}: change of {what} over time",
                references=references,
                empty=empty,
            )
        ),
        "swimmer": _svg(
            plots.swimmer_svg(lanes, uid=f"sw-{criterion}", title=f"{label}: time on study and responses")
        ),
    }


def _patterns(user: Any, trial_id: int) -> dict[str, Any] | None:
    """Rows of the dashboard's response-pattern table: (analysis, criterion or definition,
    counts), and the criteria not evaluable per subject."""
    patterns = web_selectors.endpoint_patterns(user=user, trial_id=trial_id)
    if patterns is None:
        return None
    rows = []
    for analysis in ("pseudoprogression", "hyperprogression", "dissociated_response"):
        for key, count in patterns.counts.get(analysis, {}).items():
            labels = HPD_LABELS if analysis == "hyperprogression" else CRITERIA_LABELS
            rows.append({
                "analysis": ANALYSIS_LABELS[analysis],
                "of": "" if key == "dissociated" else labels.get(key, key),
                "count": count,
                "percent": None if count.rate is None else round(100 * count.rate, 1),
            })
    return {
        "subjects": patterns.subjects,
        "failed": patterns.failed,
        "rows": rows,
        "not_evaluable": [(CRITERIA_LABELS.get(c, c), n) for c, n in patterns.not_evaluable.items()],
    }


def _dashboard_context(request: HttpRequest, trial_id: int) -> dict[str, Any]:
    user = request.user
    trial = web_selectors.dashboard_trial_get(user=user, trial_id=trial_id)
    manage = access.has_capability(user, trial.pk, access.MANAGE)
    can_export = access.has_capability(user, trial.pk, access.EXPORT)
    charter_criteria = web_selectors.charter_criteria(user=user, trial_id=trial.pk)
    criterion = request.GET.get("criterion") or charter_criteria[0]
    if criterion not in charter_criteria:
        raise Http404()
    context: dict[str, Any] = {
        "trial": trial,
        "manage": manage,
        "can_export": can_export,
        "criteria": display.labelled(charter_criteria),
        "plots": _plot_data(user, trial.pk, criterion),
        "patterns": _patterns(user, trial.pk),
        "job": web_selectors.endpoint_job_latest(user=user, trial_id=trial.pk),
        "batches": list(endpoint_selectors.export_batch_list(user=user, trial_id=trial.pk)[:10])
        if can_export
        else [],
        "export_form": forms.ExportForm() if can_export else None,
        "confirmation_windows": confirmation_selectors.confirmation_window_list(user=user, trial_id=trial.pk)
        if access.has_capability(user, trial.pk, access.VIEW_CONFIRMATION)
        else None,
    }
    if manage:
        context["progress"] = web_selectors.trial_progress(user=user, trial_id=trial.pk)
        # the reader metrics under any of the charter's criteria (default: the primary one)
        metrics_criterion = request.GET.get("metrics_criterion") or None
        if metrics_criterion is not None and metrics_criterion not in charter_criteria:
            raise Http404()
        context["metrics"] = adjudication_selectors.reader_metrics(
            user=user, trial_id=trial.pk, criterion=metrics_criterion
        )
        context["subjects"] = web_selectors.subject_list_for_dashboard(user=user, trial=trial)
        context["adjudicators"] = [
            m
            for m in trial_selectors.membership_list(user=user, trial_id=trial.pk)
            if m.role == TrialRole.ADJUDICATOR
        ]
        context["open_cases"] = list(
            adjudication_selectors.adjudication_case_list(user=user, trial_id=trial.pk, status="OPEN")
        )
    else:
        context["subjects"] = web_selectors.subject_list_for_dashboard(user=user, trial=trial)
    return context


@require_GET
@page
def dashboard(request: HttpRequest, trial_id: int) -> HttpResponse:
    context = _dashboard_context(request, trial_id)
    if request.headers.get("HX-Target") == "plots":
        return render(request, "trialreads/web/_plots.html", context)
    return render(request, "trialreads/web/dashboard.html", context)


@require_POST
@page
def endpoints_compute(request: HttpRequest, trial_id: int) -> HttpResponse:
    """Start the endpoint computation (read managers); progress is polled by the fragment."""
    trial = web_selectors.dashboard_trial_get(user=request.user, trial_id=trial_id)
    endpoint_request_services.endpoints_request(trial_id=trial.pk, actor=request.user)
    if _htmx(request):
        # The job is queued when this POST's transaction commits, after the fragment is
        # rendered: it says so and polls, rather than showing the previous job's state.
        return _job_fragment(request, trial, requested=True)
    return redirect("trialreads-web:dashboard", trial_id=trial.pk)


def _job_fragment(request: HttpRequest, trial: Any, *, requested: bool = False) -> HttpResponse:
    return render(
        request,
        "trialreads/web/_job_progress.html",
        {
            "trial": trial,
            "requested": requested,
            "job": web_selectors.endpoint_job_latest(user=request.user, trial_id=trial.pk),
            "manage": access.has_capability(request.user, trial.pk, access.MANAGE),
        },
    )


@require_GET
@page
def endpoints_progress(request: HttpRequest, trial_id: int) -> HttpResponse:
    trial = web_selectors.dashboard_trial_get(user=request.user, trial_id=trial_id)
    return _job_fragment(request, trial)


@require_POST
@page
def export_start(request: HttpRequest, trial_id: int) -> HttpResponse:
    """Request a sponsor export, optionally as of a data cut-off date; a refused cut-off is
    shown next to its field and nothing is requested."""
    trial = web_selectors.dashboard_trial_get(user=request.user, trial_id=trial_id)
    # The gate before the form: whoever may not export gets the 403/404 whatever was posted.
    endpoint_selectors.export_batch_list(user=request.user, trial_id=trial.pk)
    form = forms.ExportForm(request.POST)
    error = ""
    batch = None
    if form.is_valid():
        try:
            batch = export_services.export_request(
                trial_id=trial.pk, actor=request.user, data_cutoff=form.cleaned_data["data_cutoff"]
            )
        except ValidationError as exc:
            for errs in exc.errors.values():
                form.add_error("data_cutoff", errs)
        except Conflict as exc:
            error = exc.message
    if _htmx(request):
        # 200 even for a refused cut-off: htmx 2 does not swap 4xx responses by default, and
        # the point is to show the message next to the field.
        if form.errors:
            batch = endpoint_selectors.export_batch_list(user=request.user, trial_id=trial.pk).first()
        return render(
            request,
            "trialreads/web/_export_panel.html",
            {"trial": trial, "batch": _fresh(batch), "error": error, "export_form": form},
        )
    if form.errors:
        context = _dashboard_context(request, trial.pk)
        context["export_form"] = form
        return render(request, "trialreads/web/dashboard.html", context, status=422)
    if error:
        messages.error(request, error)
    return redirect("trialreads-web:dashboard", trial_id=trial.pk)


def _fresh(batch: Any) -> Any:
    if batch is not None:
        batch.refresh_from_db()
    return batch


@require_GET
@page
def export_progress(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = endpoint_selectors.export_batch_get(user=request.user, batch_id=batch_id)
    context = {"trial": batch.trial, "batch": batch, "error": ""}
    return render(request, "trialreads/web/_export_progress.html", context)


@require_GET
@page
def export_download(request: HttpRequest, batch_id: int, name: str) -> HttpResponseBase:
    path = export_services.export_file_path(batch_id=batch_id, name=name, actor=request.user)
    if not path.is_file():
        raise Http404()
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)


@require_GET
@page
def subject_detail(request: HttpRequest, subject_id: int) -> HttpResponse:
    """One subject (read managers and sponsor viewers): every criterion of the charter side
    by side, timepoint by timepoint, with its numbers and explanation (the accepted read of
    the latest endpoint computation). A reader sees their own read on the read page."""
    subject = web_selectors.dashboard_subject_get(user=request.user, subject_id=subject_id)
    results = {
        r.criterion: r
        for r in web_selectors.accepted_results(
            user=request.user, trial_id=subject.trial_id, subject_id=subject.pk
        )
    }
    criteria = [
        c
        for c in web_selectors.charter_criteria(user=request.user, trial_id=subject.trial_id)
        if c in results
    ]
    by_date = _cells_by_date({c: results[c].result for c in criteria})
    timepoints = sorted(
        web_selectors.subject_timepoints(user=request.user, subject=subject), key=_in_time_order
    )
    rows = [
        {"tp": tp, "cells": [by_date.get(tp.scan_date_latest, {}).get(c) for c in criteria]}
        for tp in timepoints
    ]
    summary = _summary({c: results[c].result for c in criteria})
    for row in summary:
        row["evaluator"] = results[row["criterion"]].evaluator
    accepted = (
        getattr(subject, "accepted_read", None)
        if access.has_capability(request.user, subject.trial_id, access.MANAGE)
        else None
    )
    patterns = web_selectors.subject_patterns(user=request.user, subject=subject)
    return render(
        request,
        "trialreads/web/subject.html",
        {
            "subject": subject,
            "trial": subject.trial,
            "criteria": display.labelled(criteria),
            "rows": rows,
            "summary": summary,
            "accepted": accepted,
            "AcceptanceBasis": AcceptanceBasis,
            "patterns": patterns,
            "pattern_rows": _subject_pattern_rows(patterns) if patterns else [],
        },
    )


def _subject_pattern_rows(patterns: web_selectors.SubjectPatterns) -> list[dict[str, Any]]:
    """One row per flag of the subject's accepted read: analysis, criterion or definition,
    and "yes" / "no" / "undetermined" (the engine could not decide: e.g. no pre-baseline scan
    for a growth-rate ratio)."""
    rows = []
    for analysis in ("pseudoprogression", "hyperprogression", "dissociated_response"):
        labels = HPD_LABELS if analysis == "hyperprogression" else CRITERIA_LABELS
        for key, flag in patterns.flags.get(analysis, {}).items():
            rows.append(
                {
                    "analysis": ANALYSIS_LABELS[analysis],
                    "key": "" if analysis == "dissociated_response" else labels.get(key, key),
                    "value": "undetermined" if flag is None else ("yes" if flag else "no"),
                }
            )
    return rows


# --- audit review --------------------------------------------------------------------------------------


@require_GET
@page
def audit_review(request: HttpRequest, trial_id: int) -> HttpResponse:
    """The trial's audit trail for the read manager: filter by subject, user and dates;
    printable (the print stylesheet drops navigation and filters)."""
    trial = access.access_trial_for(request.user, trial_id)
    access.require_capability(request.user, trial.pk, access.VIEW_AUDIT, "trial", trial.pk)
    subjects, users = web_selectors.audit_filter_choices(user=request.user, trial=trial)
    form = forms.AuditFilterForm(request.GET or None, subjects=subjects, users=users)
    filters: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        filters = {
            "subject_id": form.cleaned_data["subject"],
            "username": form.cleaned_data["user"] or "",
            "since": form.cleaned_data["since"],
            "until": form.cleaned_data["until"],
        }
    events = web_selectors.audit_events_filtered(user=request.user, trial_id=trial.pk, **filters)
    codes = dict(subjects)
    summary = "; ".join(
        f"{label} {value}"
        for label, value in (
            ("subject", codes.get(filters.get("subject_id") or -1, "")),
            ("user", filters.get("username", "")),
            ("from", filters.get("since") or ""),
            ("to", filters.get("until") or ""),
        )
        if value
    )
    return render(
        request,
        "trialreads/web/audit.html",
        {
            "trial": trial,
            "form": form,
            "events": events,
            "printed_at": dt.datetime.now(tz=dt.UTC),
            "printed_by": request.user.get_username(),
            "filter_summary": summary or "none",
        },
    )
