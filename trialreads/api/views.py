"""API views: authenticate, parse, call one selector or service, render.

Order of checks on every object endpoint: visibility first (the selector or access gate:
404, byte-identical for "not yours" and "does not exist"), then the If-Match precondition
(428/412), then the payload's shape (400), then the service (its own 400/403/409). Doing
visibility first means a precondition or validation answer never reveals that an invisible
object exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Model, QuerySet
from django.template.response import SimpleTemplateResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from knox.auth import TokenAuthentication
from knox.models import AuthToken
from rest_framework import mixins, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from criteria.serialize import subject_json, timepoint_json
from trialreads import access, errors
from trialreads.models import (
    AuditEvent,
    Charter,
    ImagingTimepoint,
    Read,
    Subject,
    TimepointRead,
    Trial,
    TrialMembership,
)
from trialreads.selectors import audit as audit_selectors
from trialreads.selectors import reads as read_selectors
from trialreads.selectors import trials as trial_selectors
from trialreads.services import auth as auth_services
from trialreads.services import reads as read_services
from trialreads.services import signed_content as signed_content_services
from trialreads.services import trials as trial_services

from . import etag, filters, serializers
from . import schema as _schema  # noqa: F401 (registers the OpenAPI extensions)
from .exceptions import api_exception_handler
from .parsers import StrictJSONParser
from .permissions import IsAuthenticatedUser

ETAG_HEADER = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The ETag of the timepoint read from the last GET (optimistic concurrency).",
)
ERRORS = {
    400: OpenApiResponse(description="Invalid input; field paths in `errors`."),
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="Role does not allow it, or re-authentication failed (audited)."),
    404: OpenApiResponse(serializers.DetailOut, description="Not found or not visible (same body)."),
}
WRITE_ERRORS = {
    **ERRORS,
    409: OpenApiResponse(serializers.DetailOut, description="Signed/locked, or out of sequence."),
    412: OpenApiResponse(serializers.DetailOut, description="Stale If-Match."),
    413: OpenApiResponse(serializers.DetailOut, description="Body too large."),
    428: OpenApiResponse(serializers.DetailOut, description="If-Match missing."),
}


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class ApiView(GenericAPIView):  # type: ignore[type-arg]
    """Token first so that anonymous requests get 401 with ``WWW-Authenticate: Token``."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticatedUser]
    parser_classes = [StrictJSONParser]
    pagination_class = Pagination
    filter_backends: list[Any] = []
    # No OPTIONS metadata: DRF's would describe (and probe) write endpoints per object.
    metadata_class = None

    def get_exception_handler(self) -> Callable[..., Any]:
        return api_exception_handler

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """A write and its response in one transaction (issue 13): the response is rendered
        before the commit, so a body that cannot be serialised or rendered rolls the write
        back instead of answering 500 after committing it. Refusals (4xx) are answers, not
        failures: they commit, because what they record (a denial, a failed signature) must
        stay recorded."""
        if request.method in SAFE_METHODS:
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if isinstance(response, SimpleTemplateResponse):
                response.render()
            if response.status_code >= 500:
                transaction.set_rollback(True)
        return response

    @property
    def viewer(self) -> access.Viewer:
        if not hasattr(self, "_viewer"):
            self._viewer = access.Viewer.load(self.request.user)
        return self._viewer

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["viewer"] = self.viewer
        return context


class ListView(mixins.ListModelMixin, ApiView):
    """A paginated, filtered list of whatever the selector in :meth:`get_queryset` returns."""

    #: The listed model, for schema generation (which runs without a request user or ids).
    schema_model: type[Model]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return self.schema_model._default_manager.none()
        return self.select()

    def select(self) -> QuerySet[Any]:
        raise NotImplementedError


# --- auth -------------------------------------------------------------------------------------


class TokenView(ApiView):
    """Exchange username and password for a new API token (``Authorization: Token <key>``).

    Every login issues another token, valid for ``TRIALREADS["API_TOKEN_TTL_MINUTES"]`` and
    stored only as a hash; ``POST /api/auth/logout/`` revokes it. Failed attempts are counted
    per username and address (django-axes): past the limit the answer is 429 until the
    cool-off has passed, whatever the password."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    serializer_class = serializers.TokenIn

    @extend_schema(
        request=serializers.TokenIn,
        responses={
            200: serializers.TokenOut,
            400: ERRORS[400],
            429: OpenApiResponse(serializers.DetailOut, description="Locked out after repeated failures."),
        },
    )
    def post(self, request: Request) -> Response:
        data = serializers.TokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = auth_services.login_authenticate(
            request=request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        instance, key = auth_services.api_token_issue(request=request._request, actor=user)
        return Response({"token": key, "expiry": instance.expiry})


class LogoutView(ApiView):
    """Revoke the API token this request is authenticated with."""

    authentication_classes = [TokenAuthentication]
    serializer_class = None

    @extend_schema(request=None, responses={204: None, 401: ERRORS[401]})
    def post(self, request: Request) -> Response:
        token = request.auth
        assert isinstance(token, AuthToken)  # TokenAuthentication is the only class
        auth_services.api_token_revoke(token=token, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(ApiView):
    """Revoke every API token of the requesting user (all devices and scripts)."""

    authentication_classes = [TokenAuthentication]
    serializer_class = None

    @extend_schema(request=None, responses={204: None, 401: ERRORS[401]})
    def post(self, request: Request) -> Response:
        auth_services.api_tokens_revoke_all(actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SchemaView(SpectacularAPIView):
    """The OpenAPI document (public: it describes the API, not the data)."""

    metadata_class = None


class DocsView(SpectacularSwaggerView):
    """Swagger UI. Anything but GET is answered 405 in JSON: the HTML renderer has no
    template for errors and would fail with a 500."""

    metadata_class = None

    def get_renderers(self) -> list[Any]:
        if self.request is not None and self.request.method not in {"GET", "HEAD"}:
            return [JSONRenderer()]
        return list(super().get_renderers())


# --- trials -----------------------------------------------------------------------------------


class TrialList(ListView):
    serializer_class = serializers.TrialOut
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = filters.TrialFilter
    search_fields = ["code", "title"]
    ordering_fields = ["code", "created_at"]

    schema_model = Trial

    def select(self) -> QuerySet[Any]:
        return trial_selectors.trial_list(user=self.request.user)


class TrialDetail(ApiView):
    serializer_class = serializers.TrialOut

    def get(self, request: Request, pk: int) -> Response:
        trial = trial_selectors.trial_get(user=request.user, trial_id=pk)
        return Response(self.get_serializer(trial).data)


class CharterCurrent(ApiView):
    serializer_class = serializers.CharterOut

    def get(self, request: Request, pk: int) -> Response:
        charter = trial_selectors.charter_current(user=request.user, trial_id=pk)
        return Response(self.get_serializer(charter).data)


class CharterList(ListView):
    serializer_class = serializers.CharterOut

    schema_model = Charter

    def select(self) -> QuerySet[Any]:
        return trial_selectors.charter_list(user=self.request.user, trial_id=self.kwargs["pk"])


class MembershipList(ListView):
    """The trial team for its read managers; anyone else sees only their own membership."""

    serializer_class = serializers.MembershipOut

    schema_model = TrialMembership

    def select(self) -> QuerySet[Any]:
        return trial_selectors.membership_list(user=self.request.user, trial_id=self.kwargs["pk"])


class SubjectList(ListView):
    serializer_class = serializers.SubjectOut
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = filters.SubjectFilter
    search_fields = ["subject_code"]
    ordering_fields = ["subject_code", "randomisation_date"]

    schema_model = Subject

    def select(self) -> QuerySet[Any]:
        return trial_selectors.subject_list(user=self.request.user, trial_id=self.kwargs["pk"])

    @extend_schema(request=serializers.SubjectIn, responses={201: serializers.SubjectOut, **WRITE_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        """Add a subject with its dates from the trial (read manager)."""
        trial = trial_selectors.trial_get(user=request.user, trial_id=pk)
        access.require_capability(request.user, trial.pk, access.MANAGE, "trial", trial.pk)
        data = serializers.SubjectIn(data=request.data)
        data.is_valid(raise_exception=True)
        subject = trial_services.subject_create(trial_id=pk, actor=request.user, **data.validated_data)
        out = serializers.SubjectOut(subject, context=self.get_serializer_context())
        return Response(out.data, status=status.HTTP_201_CREATED)


class AuditList(ListView):
    """The trial's audit trail for review (Annex 11 §9): read managers only (others: 403,
    audited). ``from``/``to`` bound the timestamp, ``user`` the actor, ``subject`` the object."""

    serializer_class = serializers.AuditEventOut
    filter_backends = [DjangoFilterBackend]
    filterset_class = filters.AuditFilter

    schema_model = AuditEvent

    def select(self) -> QuerySet[Any]:
        return audit_selectors.audit_event_list(user=self.request.user, trial_id=self.kwargs["pk"])


# --- subjects and timepoints ---------------------------------------------------------------------


class SubjectDetail(ApiView):
    serializer_class = serializers.SubjectOut

    def get(self, request: Request, pk: int) -> Response:
        subject = trial_selectors.subject_get(user=request.user, subject_id=pk)
        return Response(self.get_serializer(subject).data)

    @extend_schema(
        request=serializers.SubjectUpdateIn, responses={200: serializers.SubjectOut, **WRITE_ERRORS}
    )
    def patch(self, request: Request, pk: int) -> Response:
        """Record subject dates the trial learns later: death, last contact, first dose, the
        sponsor's reference start date (read manager, with a reason; audited)."""
        subject = trial_selectors.subject_get(user=request.user, subject_id=pk)
        access.require_capability(request.user, subject.trial_id, access.MANAGE, "subject", subject.pk)
        data = serializers.SubjectUpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        reason = changes.pop("reason")
        subject = trial_services.subject_update(
            subject_id=pk, changes=changes, reason=reason, actor=request.user
        )
        return Response(self.get_serializer(subject).data)


class TimepointList(ListView):
    serializer_class = serializers.TimepointOut

    schema_model = ImagingTimepoint

    def select(self) -> QuerySet[Any]:
        return trial_selectors.timepoint_list(user=self.request.user, subject_id=self.kwargs["pk"])

    @extend_schema(request=serializers.TimepointIn, responses={201: serializers.TimepointOut, **WRITE_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        """Add the subject's next imaging timepoint (read manager)."""
        subject = trial_selectors.subject_get(user=request.user, subject_id=pk)
        data = serializers.TimepointIn(data=request.data)
        data.is_valid(raise_exception=True)
        timepoint = trial_services.timepoint_create(
            subject_id=subject.pk, actor=request.user, **data.validated_data
        )
        return Response(serializers.TimepointOut(timepoint).data, status=status.HTTP_201_CREATED)


# --- reads -------------------------------------------------------------------------------------


class ReadList(ListView):
    """A reader's own reads; every read of the trial for its read manager."""

    serializer_class = serializers.ReadOut
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = filters.ReadFilter
    search_fields = ["subject__subject_code"]
    ordering_fields = ["created_at", "status", "subject__subject_code"]

    schema_model = Read

    def select(self) -> QuerySet[Any]:
        return read_selectors.read_list(user=self.request.user)


class ReadDetail(ApiView):
    serializer_class = serializers.ReadOut

    def get(self, request: Request, pk: int) -> Response:
        read = read_selectors.read_get(user=request.user, read_id=pk)
        return Response(self.get_serializer(read).data)


class ReadTimepointReads(ListView):
    serializer_class = serializers.TimepointReadSummaryOut

    schema_model = TimepointRead

    def select(self) -> QuerySet[Any]:
        return read_selectors.timepoint_read_list(user=self.request.user, read_id=self.kwargs["pk"])


class ReadEvaluation(ApiView):
    """The criteria engine on this read as the viewer may see it, with explanations."""

    serializer_class = serializers.EvaluationOut

    def get(self, request: Request, pk: int) -> Response:
        evaluation = read_selectors.read_evaluate(user=request.user, read_id=pk)
        body = {
            "read_id": evaluation.read.pk,
            "charter_version": evaluation.charter_version,
            "signed_only": evaluation.signed_only,
            "result": subject_json(evaluation.result, explain=True) if evaluation.result else None,
            "not_evaluable": dict(evaluation.not_evaluable),
            "error": evaluation.error,
        }
        return Response(self.get_serializer(body).data)


# --- timepoint reads ----------------------------------------------------------------------------


def _responses_at(user: Any, tr: TimepointRead) -> dict[str, Any] | None:
    """The engine's response at this timepoint, per criterion (``None`` at baseline, at a
    pre-baseline scan, or before the baseline is saved)."""
    if tr.timepoint.is_baseline or tr.timepoint.is_prebaseline:
        return None
    evaluation = read_selectors.read_evaluate(user=user, read_id=tr.read_id)
    if evaluation.result is None:
        return None
    out: dict[str, Any] = {}
    for criterion, result in evaluation.result.results.items():
        at = [tp for tp in result.timepoints if tp.date == tr.timepoint.scan_date_latest]
        out[criterion] = timepoint_json(at[0], explain=True) if at else None
    return out


class TimepointReadView(ApiView):
    serializer_class = serializers.TimepointReadOut

    def render_read(self, timepoint_read_id: int, status_code: int = status.HTTP_200_OK) -> Response:
        user = self.request.user
        tr = read_selectors.timepoint_read_get(user=user, timepoint_read_id=timepoint_read_id)
        charter = trial_selectors.charter_current(user=user, trial_id=tr.read.subject.trial_id)
        context = {
            **self.get_serializer_context(),
            "responses": _responses_at(user, tr),
            "criteria": tuple(charter.criteria),
        }
        response = Response(serializers.TimepointReadOut(tr, context=context).data, status=status_code)
        response["ETag"] = etag.etag_for(tr.pk, tr.version)
        return response

    def precondition(self, request: Request, pk: int) -> int:
        """Visible (404) -> If-Match present (428) -> current (412). Returns the version."""
        read_selectors.timepoint_read_get(user=request.user, timepoint_read_id=pk)
        expected = etag.required_version(request, pk)
        etag.check_fresh(request.user, pk, expected)
        return expected

    def write(self, request: Request, pk: int, expected: int, call: Callable[[], Any]) -> Response:
        try:
            call()
        except errors.Conflict:
            etag.raise_precondition_if_stale(request.user, pk, expected)
            raise
        return self.render_read(pk)


class TimepointReadDetail(TimepointReadView):
    """One timepoint read with its content (in the shape PUT takes), signatures and the
    engine's responses at this timepoint. The ``ETag`` is what a write must send as ``If-Match``."""

    def get(self, request: Request, pk: int) -> Response:
        return self.render_read(pk)


class _ContentWrite(TimepointReadView):
    """PUT replaces the draft's content; PATCH replaces only the top-level keys it sends
    (``targets``, ``non_targets``, ``new_lesions``, ``injected``; a PET scan's
    ``reference_site``, ``lesions``, ...), keeping the stored others."""

    input_class: type[serializers.StrictSerializer]

    def current(self, tr: TimepointRead) -> dict[str, Any]:
        raise NotImplementedError

    def save(self, request: Request, pk: int, expected: int, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _write(self, request: Request, pk: int, partial: bool) -> Response:
        expected = self.precondition(request, pk)
        body = request.data
        if partial and isinstance(body, dict):
            tr = read_selectors.timepoint_read_get(user=request.user, timepoint_read_id=pk)
            body = {**self.current(tr), **body}
        data = self.input_class(data=body)
        data.is_valid(raise_exception=True)
        return self.write(
            request, pk, expected, lambda: self.save(request, pk, expected, data.validated_data)
        )

    def put(self, request: Request, pk: int) -> Response:
        return self._write(request, pk, partial=False)

    def patch(self, request: Request, pk: int) -> Response:
        return self._write(request, pk, partial=True)


@extend_schema(
    parameters=[ETAG_HEADER],
    request=serializers.BaselineIn,
    responses={200: serializers.TimepointReadOut, **WRITE_ERRORS},
)
class TimepointReadBaseline(_ContentWrite):
    """Save the reader's baseline: target lesions (diameters in mm) and non-target lesions."""

    input_class = serializers.BaselineIn

    def current(self, tr: TimepointRead) -> dict[str, Any]:
        return serializers.baseline_content(tr)

    def save(self, request: Request, pk: int, expected: int, data: dict[str, Any]) -> Any:
        return read_services.timepoint_read_save_baseline(
            timepoint_read_id=pk,
            targets=[read_services.TargetInput(**t) for t in data["targets"]],
            non_targets=[read_services.NonTargetInput(**n) for n in data["non_targets"]],
            expected_version=expected,
            actor=request.user,
        )


@extend_schema(
    parameters=[ETAG_HEADER],
    request=serializers.FollowupIn,
    responses={200: serializers.TimepointReadOut, **WRITE_ERRORS},
)
class TimepointReadFollowup(_ContentWrite):
    """Save a follow-up: every baseline target's value, every non-target's rating, new lesions."""

    input_class = serializers.FollowupIn

    def current(self, tr: TimepointRead) -> dict[str, Any]:
        return serializers.followup_content(tr)

    def save(self, request: Request, pk: int, expected: int, data: dict[str, Any]) -> Any:
        targets = [
            read_services.TargetValueInput(
                code=t["code"],
                state=t["state"],
                value_mm=t["value_mm"],
                fragments_mm=tuple(t["fragments_mm"]),
                coalesced_with=tuple(t["coalesced_with"]),
                coalesced_into=t["coalesced_into"],
                perp_mm=t["perp_mm"],
                long_mm=t["long_mm"],
                fragments_perp_mm=tuple(t["fragments_perp_mm"]),
            )
            for t in data["targets"]
        ]
        return read_services.timepoint_read_save_followup(
            timepoint_read_id=pk,
            targets=targets,
            non_targets={n["code"]: n["status"] for n in data["non_targets"]},
            new_lesions=[read_services.NewLesionInput(**n) for n in data["new_lesions"]],
            injected=list(data["injected"]),
            expected_version=expected,
            actor=request.user,
        )


@extend_schema(
    parameters=[ETAG_HEADER],
    request=serializers.PetScanIn,
    responses={200: serializers.TimepointReadOut, **WRITE_ERRORS},
)
class TimepointReadPet(_ContentWrite):
    """Save a PET/CT timepoint's PET scan (PERCIST family; the charter names a PET criterion):
    the reference region's mean and SD, the uptake time, each lesion's SULpeak (SULmax, TLG
    and CT size where recorded), the reader's unequivocal progression, or ``not_done``. The
    CT form of the same timepoint is saved apart and is left as it is."""

    input_class = serializers.PetScanIn

    def current(self, tr: TimepointRead) -> dict[str, Any]:
        return serializers.pet_content(tr)

    def save(self, request: Request, pk: int, expected: int, data: dict[str, Any]) -> Any:
        scan = read_services.PetScanInput(
            reference_site=data["reference_site"],
            reference_mean=data["reference_mean"],
            reference_sd=data["reference_sd"],
            uptake_min=data["uptake_min"],
            lesions=tuple(read_services.PetLesionInput(**lesion) for lesion in data["lesions"]),
            unequivocal_progression=data["unequivocal_progression"],
            not_done=data["not_done"],
        )
        return read_services.timepoint_read_save_pet(
            timepoint_read_id=pk, scan=scan, expected_version=expected, actor=request.user
        )


@extend_schema(
    parameters=[ETAG_HEADER],
    request=serializers.PrebaselineIn,
    responses={200: serializers.TimepointReadOut, **WRITE_ERRORS},
)
class TimepointReadPrebaseline(_ContentWrite):
    """Save a pre-baseline scan (tumour growth rate), once this read's baseline is saved:
    every baseline target's value there (measured or not assessed), or only their sum."""

    input_class = serializers.PrebaselineIn

    def current(self, tr: TimepointRead) -> dict[str, Any]:
        return serializers.prebaseline_content(tr)

    def save(self, request: Request, pk: int, expected: int, data: dict[str, Any]) -> Any:
        scan = read_services.PrebaselineInput(
            targets=tuple(read_services.TargetValueInput(**t) for t in data["targets"]),
            sum_mm=data["sum_mm"],
        )
        return read_services.timepoint_read_save_prebaseline(
            timepoint_read_id=pk, scan=scan, expected_version=expected, actor=request.user
        )


class TimepointReadSign(TimepointReadView):
    """Sign (21 CFR 11.50/11.200): re-enter the password, printed name, meaning. Covers the
    SHA-256 of the content the ETag names and locks it. Failures are audited; repeated
    failures lock signing out."""

    @extend_schema(
        parameters=[ETAG_HEADER],
        request=serializers.SignIn,
        responses={200: serializers.TimepointReadOut, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        expected = self.precondition(request, pk)
        data = serializers.SignIn(data=request.data)
        data.is_valid(raise_exception=True)
        return self.write(
            request,
            pk,
            expected,
            lambda: read_services.timepoint_read_sign(
                timepoint_read_id=pk, expected_version=expected, actor=request.user, **data.validated_data
            ),
        )


class TimepointReadUnlock(TimepointReadView):
    """Reopen a signed timepoint read (read manager, with a reason): the signature is voided."""

    @extend_schema(
        parameters=[ETAG_HEADER],
        request=serializers.UnlockIn,
        responses={200: serializers.TimepointReadOut, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        expected = self.precondition(request, pk)
        data = serializers.UnlockIn(data=request.data)
        data.is_valid(raise_exception=True)
        return self.write(
            request,
            pk,
            expected,
            lambda: read_services.timepoint_read_unlock(
                timepoint_read_id=pk, reason=data.validated_data["reason"], actor=request.user
            ),
        )


class SignatureVerify(ApiView):
    """Does the live signature still cover the stored content (T-SIG-LINK)?"""

    serializer_class = serializers.VerificationOut

    def get(self, request: Request, pk: int) -> Response:
        result = signed_content_services.signature_verify(user=request.user, timepoint_read_id=pk)
        return Response(self.get_serializer(result).data)
