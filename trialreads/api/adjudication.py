"""Adjudication and reader-metrics endpoints (issue 4). Presentation only: every view calls
one selector or service of ``adjudication``; visibility comes from
``access.access_adjudication_for`` (readers, sponsors and unassigned adjudicators get the
API's single 404 body).

Wire into ``trialreads/api/urls.py`` with ``urlpatterns += adjudication.urlpatterns``
(names ``api:adjudication-*``, ``api:trial-reader-metrics``, ``api:trial-accepted-reads``,
``api:trial-investigator-assessments``, ``api:subject-adjudication-evaluate``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from trialreads import validators
from trialreads.choices import AdjudicationStatus
from trialreads.errors import ValidationError
from trialreads.models import AcceptedRead, AdjudicationCase
from trialreads.selectors import adjudication as selectors
from trialreads.services import adjudication as services

from .serializers import DetailOut, StrictCharField, StrictDateField, StrictIntegerField, StrictSerializer
from .views import ERRORS, ApiView, ListView

WRITE_ERRORS = {
    **ERRORS,
    409: OpenApiResponse(DetailOut, description="The case is no longer open, or a read was reopened."),
}


# --- serializers --------------------------------------------------------------------------------


class AdjudicationCaseOut(serializers.Serializer):  # type: ignore[type-arg]
    """A case as the adjudicator and the read manager see it: "A"/"B" labels, no slots."""

    def to_representation(self, instance: AdjudicationCase) -> dict[str, Any]:
        return selectors.case_json(instance)


class AcceptedReadOut(serializers.Serializer):  # type: ignore[type-arg]
    def to_representation(self, instance: AcceptedRead) -> dict[str, Any]:
        return {
            "subject": instance.subject.subject_code,
            "subject_id": instance.subject_id,
            "read_id": instance.read_id,
            "slot": instance.read.slot if instance.read else None,
            "basis": instance.basis,
            "case_id": instance.case_id,
            "evaluated_at": instance.evaluated_at,
        }


class DecideIn(StrictSerializer):
    chosen = serializers.ChoiceField(choices=["A", "B"])
    rationale = StrictCharField(max_length=5000)
    password = StrictCharField(write_only=True, max_length=200, style={"input_type": "password"})
    printed_name = StrictCharField(max_length=200)
    meaning = StrictCharField(max_length=300, allow_blank=True, required=False, default="")


class AssignIn(StrictSerializer):
    adjudicator_id = StrictIntegerField()


class InvestigatorRowIn(StrictSerializer):
    subject_code = StrictCharField(max_length=40)
    pd_date = StrictDateField(allow_null=True)
    bor = serializers.ChoiceField(
        choices=["", *validators.OVERALL_RESPONSES],
        required=False,
        default="",
        help_text="The investigator's best overall response (RECIST 1.1), or empty.",
    )


class InvestigatorImportIn(StrictSerializer):
    data_source = StrictCharField(max_length=200)
    rows = serializers.ListField(child=InvestigatorRowIn(), max_length=100000)


# --- views ---------------------------------------------------------------------------------------


class AdjudicationList(ListView):
    """The requester's adjudication queue (adjudicator: assigned cases; read manager: all
    cases of their trials). ``?status=OPEN|DECIDED|VOIDED``, ``?trial=<id>``."""

    serializer_class = AdjudicationCaseOut
    schema_model = AdjudicationCase

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=AdjudicationStatus.values),
            OpenApiParameter("trial", OpenApiTypes.INT),
        ],
        responses={200: AdjudicationCaseOut(many=True), **ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def select(self) -> QuerySet[Any]:
        status = self.request.query_params.get("status")
        trial = self.request.query_params.get("trial")
        if status is not None and status not in AdjudicationStatus.values:
            return AdjudicationCase.objects.none()
        return selectors.adjudication_case_list(user=self.request.user, trial_id=trial, status=status)


class AdjudicationDetail(ApiView):
    """The blinded side-by-side view: the case, then "Read A" and "Read B" with their
    lesions, sums, timepoint responses and explanations."""

    serializer_class = AdjudicationCaseOut

    @extend_schema(responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request: Request, pk: int) -> Response:
        return Response(selectors.adjudication_side_by_side(user=request.user, case_id=pk))


class AdjudicationDecide(ApiView):
    """The assigned adjudicator chooses "A" or "B", writes the rationale and signs
    (password re-entry, printed name, meaning). Failures are audited; repeated failures
    lock signing out."""

    serializer_class = DecideIn

    @extend_schema(request=DecideIn, responses={200: AdjudicationCaseOut, **WRITE_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        selectors.adjudication_case_get(user=request.user, case_id=pk)  # visibility first: 404
        data = DecideIn(data=request.data)
        data.is_valid(raise_exception=True)
        case = services.adjudication_decide(case_id=pk, actor=request.user, **data.validated_data)
        return Response(AdjudicationCaseOut(case).data)


class AdjudicationAssign(ApiView):
    """Read manager: (re)assign an open case to an adjudicator who does not read the subject."""

    serializer_class = AssignIn

    @extend_schema(request=AssignIn, responses={200: AdjudicationCaseOut, **WRITE_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        selectors.adjudication_case_get(user=request.user, case_id=pk)
        data = AssignIn(data=request.data)
        data.is_valid(raise_exception=True)
        case = services.adjudication_assign(
            case_id=pk, adjudicator_id=data.validated_data["adjudicator_id"], actor=request.user
        )
        return Response(AdjudicationCaseOut(case).data)


class SubjectAdjudicationEvaluate(ApiView):
    """Read manager: run the comparison of the subject's reads again (after an engine
    failure or a charter change)."""

    serializer_class = AcceptedReadOut

    @extend_schema(request=None, responses={200: AcceptedReadOut, 204: None, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        state = services.adjudication_reevaluate(subject_id=pk, actor=request.user)
        if state is None:
            return Response(status=204)
        return Response(AcceptedReadOut(state).data)


class AcceptedReadList(ListView):
    """The accepted read of each compared subject (RSACPTFL source): managers and export roles."""

    serializer_class = AcceptedReadOut
    schema_model = AcceptedRead

    def select(self) -> QuerySet[Any]:
        return selectors.accepted_read_list(user=self.request.user, trial_id=self.kwargs["pk"])


class ReaderMetrics(ApiView):
    """Read manager: adjudication rate, per-reader adjudicator agreement and disagreement
    index, Cohen's kappa on BOR (95% CI), median |Δ| of progression dates, monthly drift,
    and site-vs-central EDR/LDR. ``?pd_tolerance_days=N`` for the EDR/LDR timing;
    ``?criterion=irecist`` for the BOR and progression dates of another of the trial's
    criteria (default: the charter's primary criterion)."""

    serializer_class = AcceptedReadOut

    @extend_schema(
        parameters=[
            OpenApiParameter("pd_tolerance_days", OpenApiTypes.INT),
            OpenApiParameter(
                "criterion",
                OpenApiTypes.STR,
                description="One of the trial's criteria (default: the primary criterion); "
                "another value is a 400 naming criterion.",
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        raw = request.query_params.get("pd_tolerance_days", "0")
        try:
            # ASCII digits only: str.isdigit() also accepts "²" and other Unicode digits
            days = validators.parse_int(raw, minimum=0, maximum=validators.DAYS_MAX)
        except ValueError as exc:
            raise ValidationError(f"number of days: {exc}", "pd_tolerance_days") from exc
        criterion = request.query_params.get("criterion")
        metrics = selectors.reader_metrics(
            user=request.user, trial_id=pk, pd_tolerance_days=days, criterion=criterion
        )
        return Response(metrics)


class InvestigatorAssessmentImport(ApiView):
    """Read manager: import the sites' progression dates (for EDR/LDR)."""

    serializer_class = InvestigatorImportIn

    @extend_schema(request=InvestigatorImportIn, responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        data = InvestigatorImportIn(data=request.data)
        data.is_valid(raise_exception=True)
        rows = [services.InvestigatorRow(**row) for row in data.validated_data["rows"]]
        count = services.investigator_assessments_import(
            trial_id=pk, rows=rows, source=data.validated_data["data_source"], actor=request.user
        )
        return Response({"imported": count})


urlpatterns = [
    path("adjudications/", AdjudicationList.as_view(), name="adjudication-list"),
    path("adjudications/<int:pk>/", AdjudicationDetail.as_view(), name="adjudication-detail"),
    path("adjudications/<int:pk>/decide/", AdjudicationDecide.as_view(), name="adjudication-decide"),
    path("adjudications/<int:pk>/assign/", AdjudicationAssign.as_view(), name="adjudication-assign"),
    path(
        "subjects/<int:pk>/adjudication/evaluate/",
        SubjectAdjudicationEvaluate.as_view(),
        name="subject-adjudication-evaluate",
    ),
    path("trials/<int:pk>/accepted-reads/", AcceptedReadList.as_view(), name="trial-accepted-reads"),
    path("trials/<int:pk>/reader-metrics/", ReaderMetrics.as_view(), name="trial-reader-metrics"),
    path(
        "trials/<int:pk>/investigator-assessments/",
        InvestigatorAssessmentImport.as_view(),
        name="trial-investigator-assessments",
    ),
]
