"""Confirmation windows of unconfirmed progression and the trial's sponsor contacts (issue 15
item 4). Presentation only: selectors in ``selectors.confirmation``, writes in
``services.confirmation``. Windows: read managers and sponsor viewers (which timepoint reads a
window rests on: the read manager only); contacts: read managers. To anyone else both are the
gate's 404."""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from trialreads.choices import ConfirmationStatus
from trialreads.errors import ValidationError
from trialreads.models import ConfirmationWindow, SponsorContact
from trialreads.selectors import confirmation as selectors
from trialreads.services import confirmation as services

from .serializers import StrictBooleanField, StrictCharField, StrictSerializer
from .views import ERRORS, WRITE_ERRORS, ApiView, ListView


class ConfirmationWindowOut(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(source="window.pk")
    subject_id = serializers.IntegerField(source="window.subject_id")
    subject_code = serializers.CharField(source="window.subject.subject_code")
    criterion = serializers.CharField(source="window.criterion")
    visit_label = serializers.CharField(source="window.timepoint.visit_label")
    scan_date = serializers.DateField(source="window.scan_date")
    window_start = serializers.DateField(source="window.window_start")
    window_end = serializers.DateField(source="window.window_end")
    status = serializers.CharField(help_text=f"As of today: {', '.join(ConfirmationStatus.values)}.")
    opened_at = serializers.DateTimeField(source="window.opened_at")
    closed_at = serializers.DateTimeField(source="window.closed_at", allow_null=True)
    outcome = serializers.CharField(source="window.outcome")
    source_timepoint_read_ids = serializers.ListField(
        child=serializers.IntegerField(),
        source="sources",
        help_text="The signed timepoint reads that showed the progression (read managers; empty otherwise).",
    )
    closing_timepoint_read_id = serializers.IntegerField(
        source="closing", allow_null=True, help_text="The timepoint read that closed it (read managers)."
    )


class SponsorContactOut(serializers.Serializer):  # type: ignore[type-arg]
    """The secret is write-only: only whether one is set is ever shown."""

    id = serializers.IntegerField()
    trial_id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.CharField()
    webhook_url = serializers.CharField()
    webhook_secret_set = serializers.SerializerMethodField()
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def get_webhook_secret_set(self, obj: SponsorContact) -> bool:
        return bool(obj.webhook_secret)


class SponsorContactIn(StrictSerializer):
    name = StrictCharField(max_length=200)
    email = StrictCharField(max_length=254)
    webhook_url = StrictCharField(max_length=500, required=False, allow_blank=True, default="")
    webhook_secret = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    active = StrictBooleanField(required=False, default=True)


class SponsorContactPatchIn(StrictSerializer):
    name = StrictCharField(max_length=200, required=False)
    email = StrictCharField(max_length=254, required=False)
    webhook_url = StrictCharField(max_length=500, required=False, allow_blank=True)
    webhook_secret = StrictCharField(max_length=200, required=False, allow_blank=True)
    active = StrictBooleanField(required=False)


STATUS_PARAMETER = OpenApiParameter(
    "status", OpenApiTypes.STR, enum=ConfirmationStatus.values, description="Only windows of this status."
)


class ConfirmationWindowList(ListView):
    """The trial's confirmation windows, most urgent first, with their status as of today
    (DUE / OVERDUE while open; CONFIRMED / RESET / WITHDRAWN once closed)."""

    serializer_class = ConfirmationWindowOut
    schema_model = ConfirmationWindow

    @extend_schema(parameters=[STATUS_PARAMETER], responses={200: ConfirmationWindowOut(many=True), **ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def select(self) -> Any:
        wanted = self.request.query_params.get("status")
        rows = selectors.confirmation_window_list(user=self.request.user, trial_id=self.kwargs["pk"])
        if wanted is not None and wanted not in ConfirmationStatus.values:
            raise ValidationError(f"one of {', '.join(ConfirmationStatus.values)}", "status")
        return [row for row in rows if wanted is None or row.status == wanted]


class SponsorContactList(ListView):
    """Who is told when a confirmation window opens or turns overdue (read managers)."""

    serializer_class = SponsorContactOut
    schema_model = SponsorContact

    def select(self) -> Any:
        return selectors.sponsor_contact_list(user=self.request.user, trial_id=self.kwargs["pk"])

    @extend_schema(request=SponsorContactIn, responses={201: SponsorContactOut, **WRITE_ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        """Add a contact: an email address and, optionally, an https webhook with its secret."""
        selectors.sponsor_contact_list(user=request.user, trial_id=pk)  # the gate before the body
        data = SponsorContactIn(data=request.data)
        data.is_valid(raise_exception=True)
        contact = services.sponsor_contact_create(trial_id=pk, actor=request.user, **data.validated_data)
        return Response(SponsorContactOut(contact).data, status=status.HTTP_201_CREATED)


class SponsorContactDetail(ApiView):
    serializer_class = SponsorContactOut

    def get(self, request: Request, pk: int) -> Response:
        return Response(
            self.get_serializer(selectors.sponsor_contact_get(user=request.user, contact_id=pk)).data
        )

    @extend_schema(request=SponsorContactPatchIn, responses={200: SponsorContactOut, **WRITE_ERRORS})
    def patch(self, request: Request, pk: int) -> Response:
        """Change a contact (deactivate it with ``{"active": false}``)."""
        selectors.sponsor_contact_get(user=request.user, contact_id=pk)
        data = SponsorContactPatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        contact = services.sponsor_contact_update(
            contact_id=pk, changes=data.validated_data, actor=request.user
        )
        return Response(SponsorContactOut(contact).data)


urlpatterns = [
    path(
        "trials/<int:pk>/confirmation-windows/",
        ConfirmationWindowList.as_view(),
        name="trial-confirmation-windows",
    ),
    path("trials/<int:pk>/sponsor-contacts/", SponsorContactList.as_view(), name="trial-sponsor-contacts"),
    path("sponsor-contacts/<int:pk>/", SponsorContactDetail.as_view(), name="sponsor-contact-detail"),
]
