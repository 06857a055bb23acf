"""Endpoint computations and sponsor exports (issue 5): read managers trigger a
computation and follow its progress; managers and sponsor viewers read the accepted
results and request, follow and download export batches. Presentation only: selectors in
``selectors.endpoints``, writes in ``services.endpoint_requests`` / ``services.exports``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from criteria.serialize import plain
from trialreads.endpoint_results import analyses_from_json, analysis_flags
from trialreads.errors import NotFound
from trialreads.models.endpoint import EndpointAnalysis, EndpointJob, EndpointRun, ExportBatch
from trialreads.selectors import endpoints as selectors
from trialreads.services import endpoint_requests
from trialreads.services import exports as export_services

from .serializers import DetailOut, StrictDateField, StrictSerializer
from .views import ERRORS, ApiView, ListView

WRITE_ERRORS = {**ERRORS, 409: OpenApiResponse(DetailOut, description="Nothing computed yet.")}


class JobOut(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    trial_id = serializers.IntegerField()
    status = serializers.CharField()
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    progress = serializers.FloatField()
    attempts = serializers.IntegerField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class EndpointJobOut(JobOut):
    charter_version = serializers.IntegerField(source="charter.version")
    algorithm_version = serializers.CharField()
    input_sha256 = serializers.CharField()
    failed_runs = serializers.IntegerField()


class EndpointResultOut(serializers.Serializer):  # type: ignore[type-arg]
    """The accepted (BICR) read's result for one subject and criterion."""

    subject_id = serializers.IntegerField()
    subject_code = serializers.CharField(source="subject.subject_code")
    criterion = serializers.CharField()
    status = serializers.CharField()
    reason = serializers.CharField(
        help_text="Why the run FAILED: the engine's message per evaluator (e.g. an input the "
        "criterion needs that the reads do not carry); empty when DONE."
    )
    evaluator = serializers.CharField(source="accepted_evaluator")
    result = serializers.SerializerMethodField()

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": {}})
    def get_result(self, obj: EndpointRun) -> dict[str, Any] | None:
        data = obj.result.get(obj.accepted_evaluator) if obj.accepted_evaluator else None
        return data if isinstance(data, dict) else None


class EndpointAnalysisOut(serializers.Serializer):  # type: ignore[type-arg]
    """The accepted (BICR) read's analyses for one subject: the subject-level flags
    (hyperprogression per definition, pseudoprogression per criterion, dissociated response;
    null when undetermined) and the analyses as the criteria CLI writes them."""

    subject_id = serializers.IntegerField()
    subject_code = serializers.CharField(source="subject.subject_code")
    status = serializers.CharField()
    reason = serializers.CharField()
    evaluator = serializers.CharField(source="accepted_evaluator")
    flags = serializers.SerializerMethodField()
    analyses = serializers.SerializerMethodField()

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "additionalProperties": {
                "type": "object",
                "additionalProperties": {"type": "boolean", "nullable": True},
            },
        }
    )
    def get_flags(self, obj: EndpointAnalysis) -> dict[str, Any] | None:
        data = _accepted(obj)
        return None if data is None else analysis_flags(data)

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": {}})
    def get_analyses(self, obj: EndpointAnalysis) -> dict[str, Any] | None:
        data = _accepted(obj)
        return None if data is None else {k: plain(v) for k, v in analyses_from_json(data).items()}


def _accepted(obj: EndpointAnalysis) -> dict[str, Any] | None:
    data = obj.result.get(obj.accepted_evaluator) if obj.accepted_evaluator else None
    return data if isinstance(data, dict) else None


class ExportFileOut(serializers.Serializer):  # type: ignore[type-arg]
    path = serializers.CharField()
    sha256 = serializers.CharField()
    bytes = serializers.IntegerField()


class ExportBatchOut(JobOut):
    endpoint_job_id = serializers.IntegerField(source="job_id")
    files = ExportFileOut(many=True)
    manifest_sha256 = serializers.CharField()
    include_chain_head = serializers.BooleanField()
    data_cutoff = serializers.DateField(allow_null=True)


class ExportRequestIn(StrictSerializer):
    """The body of an export request; an empty body (or none) exports all data."""

    data_cutoff = StrictDateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Data cut-off date (YYYY-MM-DD): the transfer is made as of this day (ADTTE "
        "censored at the cut-off, ADRS ANL01FL only on or before it). Not in the future.",
    )


class ComputeOut(serializers.Serializer):  # type: ignore[type-arg]
    detail = serializers.CharField()
    job = EndpointJobOut(allow_null=True)


# --- views ----------------------------------------------------------------------------------------


class EndpointJobList(ListView):
    """The trial's endpoint computations, newest first (managers, sponsor viewers)."""

    serializer_class = EndpointJobOut
    schema_model = EndpointJob

    def select(self) -> QuerySet[Any]:
        return selectors.endpoint_job_list(user=self.request.user, trial_id=self.kwargs["pk"]).select_related(
            "charter"
        )

    @extend_schema(request=None, responses={202: ComputeOut, **WRITE_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        """Read manager: compute the trial's endpoints again (queued; idempotent on the inputs)."""
        trial_id = endpoint_requests.endpoints_request(trial_id=pk, actor=request.user)
        job = (
            selectors.endpoint_job_list(user=request.user, trial_id=trial_id)
            .select_related("charter")
            .first()
        )
        body = {"detail": "queued", "job": EndpointJobOut(job).data if job else None}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class EndpointJobDetail(ApiView):
    serializer_class = EndpointJobOut

    def get(self, request: Request, pk: int) -> Response:
        return Response(self.get_serializer(selectors.endpoint_job_get(user=request.user, job_id=pk)).data)


class EndpointResultList(ListView):
    """Accepted results of the latest finished computation, per subject and criterion."""

    serializer_class = EndpointResultOut
    schema_model = EndpointRun

    def select(self) -> QuerySet[Any]:
        return selectors.endpoint_result_list(user=self.request.user, trial_id=self.kwargs["pk"])


class EndpointAnalysisList(ListView):
    """Accepted analyses of the latest finished computation, per subject (the charter's
    ``analyses``; empty when it asks for none)."""

    serializer_class = EndpointAnalysisOut
    schema_model = EndpointAnalysis

    def select(self) -> QuerySet[Any]:
        return selectors.endpoint_analysis_list(user=self.request.user, trial_id=self.kwargs["pk"])


class ExportBatchList(ListView):
    """Export batches of the trial (sponsor viewers, read managers)."""

    serializer_class = ExportBatchOut
    schema_model = ExportBatch

    def select(self) -> QuerySet[Any]:
        return selectors.export_batch_list(user=self.request.user, trial_id=self.kwargs["pk"])

    @extend_schema(request=ExportRequestIn, responses={202: ExportBatchOut, **WRITE_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        """Request the transfer of the latest computed endpoints, optionally as of a data
        cut-off date (idempotent: same results and cut-off, same batch). The files are built
        in the background; follow the batch's progress."""
        # The gate first, so that whoever may not export gets the same 404/403 whatever the body.
        selectors.export_batch_list(user=request.user, trial_id=pk)
        data = ExportRequestIn(data=request.data)
        data.is_valid(raise_exception=True)
        batch = export_services.export_request(
            trial_id=pk, actor=request.user, data_cutoff=data.validated_data["data_cutoff"]
        )
        batch.refresh_from_db()
        return Response(ExportBatchOut(batch).data, status=status.HTTP_202_ACCEPTED)


class ExportBatchDetail(ApiView):
    serializer_class = ExportBatchOut

    def get(self, request: Request, pk: int) -> Response:
        return Response(self.get_serializer(selectors.export_batch_get(user=request.user, batch_id=pk)).data)


class ExportFileDownload(ApiView):
    """One file of a finished batch (XPT, define, manifest); every download is audited."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **ERRORS})
    def get(self, request: Request, pk: int, name: str) -> Any:
        file_path = export_services.export_file_path(batch_id=pk, name=name, actor=request.user)
        if not file_path.is_file():
            raise NotFound()
        return FileResponse(file_path.open("rb"), as_attachment=True, filename=file_path.name)


urlpatterns = [
    path("trials/<int:pk>/endpoint-jobs/", EndpointJobList.as_view(), name="trial-endpoint-jobs"),
    path("trials/<int:pk>/endpoint-results/", EndpointResultList.as_view(), name="trial-endpoint-results"),
    path(
        "trials/<int:pk>/endpoint-analyses/", EndpointAnalysisList.as_view(), name="trial-endpoint-analyses"
    ),
    path("trials/<int:pk>/exports/", ExportBatchList.as_view(), name="trial-exports"),
    path("endpoint-jobs/<int:pk>/", EndpointJobDetail.as_view(), name="endpoint-job-detail"),
    path("exports/<int:pk>/", ExportBatchDetail.as_view(), name="export-detail"),
    path("exports/<int:pk>/files/<str:name>", ExportFileDownload.as_view(), name="export-file"),
]
