"""Admin: read-only by design.

Every change to trial data has to go through a service (validation, locking, audit event in
the same transaction); the admin's generic forms would bypass all three. So the admin is a
viewer: no add, change or delete for any model, locked or not (T-LOCK-ADMIN).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from trialreads import access, models


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(models.Trial)
class TrialAdmin(ReadOnlyAdmin):
    list_display = ("code", "title", "created_at")
    search_fields = ("code", "title")


@admin.register(models.Charter)
class CharterAdmin(ReadOnlyAdmin):
    list_display = (
        "trial", "version", "is_current", "primary_criterion", "criteria", "analyses", "date_imputation",
        "epoch_rule", "effective_from",
    )
    list_filter = ("is_current",)


@admin.register(models.Site)
class SiteAdmin(ReadOnlyAdmin):
    list_display = ("trial", "code", "name")


@admin.register(models.TrialMembership)
class TrialMembershipAdmin(ReadOnlyAdmin):
    list_display = ("trial", "user", "role", "reader_label")
    list_filter = ("role",)


@admin.register(models.Subject)
class SubjectAdmin(ReadOnlyAdmin):
    # The admin sees fields as a read manager does (access.ADMIN_VIEWS_AS): no arm.
    # The trial's subject dates (issue 18 item 3): randomisation, first dose, the sponsor's
    # reference start date (RFSTDTC), death, last contact.
    list_display = (
        "trial", "subject_code", "site", "randomisation_date", "first_dose_date", "reference_start_date",
        "death_date", "last_contact_date",
    )
    exclude = access.admin_hidden_fields("subject")


@admin.register(models.ImagingTimepoint)
class ImagingTimepointAdmin(ReadOnlyAdmin):
    list_display = ("subject", "sequence", "visit_label", "scan_date_earliest", "is_baseline")


@admin.register(models.Read)
class ReadAdmin(ReadOnlyAdmin):
    list_display = access.admin_fields("read", ("subject", "slot", "reader", "status"))


@admin.register(models.TimepointRead)
class TimepointReadAdmin(ReadOnlyAdmin):
    list_display = ("read", "timepoint", "status", "locked", "version")
    list_filter = ("status", "locked")


@admin.register(models.Lesion)
class LesionAdmin(ReadOnlyAdmin):
    list_display = ("read", "lesion_code", "kind", "organ", "is_node")


@admin.register(models.Measurement)
class MeasurementAdmin(ReadOnlyAdmin):
    list_display = ("timepoint_read", "lesion", "state", "value_mm")


@admin.register(models.NonTargetRating)
class NonTargetRatingAdmin(ReadOnlyAdmin):
    list_display = ("timepoint_read", "lesion", "status")


@admin.register(models.Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = access.admin_fields(
        "signature", ("timepoint_read", "printed_name", "signed_at", "voided_at")
    )


@admin.register(models.AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("chain_id", "seq", "ts", "actor_username", "event_type", "object_type", "object_id")
    list_filter = ("event_type",)
    search_fields = ("object_id", "actor_username")


@admin.register(models.ChainHead)
class ChainHeadAdmin(ReadOnlyAdmin):
    list_display = ("chain_id", "seq", "hash")


# Adjudication: model view permission needed as for everything here; reader accounts are not
# staff, and the admin, like the API, names slots rather than showing the side-by-side view.
@admin.register(models.AdjudicationCase)
class AdjudicationCaseAdmin(ReadOnlyAdmin):
    list_display = ("subject", "cycle", "status", "adjudicator", "chosen_slot", "signed_at", "created_at")
    list_filter = ("status",)


@admin.register(models.AcceptedRead)
class AcceptedReadAdmin(ReadOnlyAdmin):
    list_display = ("subject", "read", "basis", "case", "evaluated_at")
    list_filter = ("basis",)


@admin.register(models.InvestigatorAssessment)
class InvestigatorAssessmentAdmin(ReadOnlyAdmin):
    list_display = ("subject", "pd_date", "bor", "imported_at", "source")


# Confirmation workflow (issue 15 item 4): viewed here, written by services.confirmation (the
# contacts through the API). The webhook secret is never shown.
@admin.register(models.ConfirmationWindow)
class ConfirmationWindowAdmin(ReadOnlyAdmin):
    list_display = ("subject", "criterion", "scan_date", "window_start", "window_end", "outcome", "closed_at")
    list_filter = ("criterion", "outcome")


@admin.register(models.SponsorContact)
class SponsorContactAdmin(ReadOnlyAdmin):
    list_display = ("trial", "name", "email", "webhook_url", "active")
    list_filter = ("active",)
    exclude = ("webhook_secret",)


@admin.register(models.ConfirmationNotification)
class ConfirmationNotificationAdmin(ReadOnlyAdmin):
    list_display = ("window", "contact", "kind", "channel", "status", "attempts", "sent_at")
    list_filter = ("kind", "channel", "status")
