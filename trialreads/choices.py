"""Controlled vocabularies of the app, as ``TextChoices`` (one place, plain data)."""

from __future__ import annotations

from django.db import models


class TrialRole(models.TextChoices):
    READER = "READER", "Reader"
    ADJUDICATOR = "ADJUDICATOR", "Adjudicator"
    MANAGER = "MANAGER", "Read manager"
    SPONSOR_VIEWER = "SPONSOR_VIEWER", "Sponsor viewer"


class ReadParadigm(models.TextChoices):
    TWO_PLUS_ONE = "2+1", "Two readers plus adjudicator"


class ReadStatus(models.TextChoices):
    ASSIGNED = "ASSIGNED", "Assigned"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    COMPLETED = "COMPLETED", "All timepoints signed"


class TimepointReadStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    SIGNED = "SIGNED", "Signed"


class Modality(models.TextChoices):
    CT = "CT", "CT"
    MRI = "MRI", "MRI"
    PET_CT = "PET_CT", "PET/CT"
    XR = "XR", "X-ray"
    OTHER = "OTHER", "Other"


class LesionKind(models.TextChoices):
    TARGET = "TARGET", "Target"
    NON_TARGET = "NON_TARGET", "Non-target"
    NEW = "NEW", "New"
    #: A lesion assessed on PET (PERCIST family): SULpeak per scan, not a CT target.
    PET = "PET", "PET lesion"


class PetReferenceSite(models.TextChoices):
    """PERCIST reference region (Wahl 2009): the liver, or the blood pool when the liver is
    abnormal. Mirrors ``criteria.types.PetReference.site``."""

    LIVER = "liver", "Liver"
    BLOOD_POOL = "blood_pool", "Blood pool"


class MeasurementState(models.TextChoices):
    """Mirrors ``criteria.types.TargetKind`` (upper-case here, lower-case there)."""

    MEASURED = "MEASURED", "Measured"
    TOO_SMALL = "TOO_SMALL", "Too small to measure"
    NOT_ASSESSED = "NOT_ASSESSED", "Not assessed"
    SPLIT = "SPLIT", "Split"
    COALESCED = "COALESCED", "Coalesced"
    COALESCED_INTO = "COALESCED_INTO", "Coalesced into another lesion"


class NonTargetStatus(models.TextChoices):
    """Mirrors ``criteria.types.NonTargetStatus`` (same values)."""

    PRESENT = "present", "Present"
    ABSENT = "absent", "Absent"
    UNEQUIVOCAL_PROGRESSION = "unequivocal_progression", "Unequivocal progression"
    FURTHER_INCREASE = "further_increase", "Further increase"
    NOT_EVALUATED = "not_evaluated", "Not evaluated"


class AuditEventType(models.TextChoices):
    """Every kind of event the services write. Other modules (adjudication, endpoints,
    exports) use the values reserved here so that the vocabulary stays in one place."""

    TRIAL_CREATED = "TRIAL_CREATED"
    CHARTER_PUBLISHED = "CHARTER_PUBLISHED"
    SITE_CREATED = "SITE_CREATED"
    SUBJECT_CREATED = "SUBJECT_CREATED"
    SUBJECT_UPDATED = "SUBJECT_UPDATED"
    TIMEPOINT_CREATED = "TIMEPOINT_CREATED"
    MEMBERSHIP_ADDED = "MEMBERSHIP_ADDED"
    MEMBERSHIP_REMOVED = "MEMBERSHIP_REMOVED"
    READS_ASSIGNED = "READS_ASSIGNED"
    TIMEPOINT_READ_SAVED = "TIMEPOINT_READ_SAVED"
    TIMEPOINT_READ_SIGNED = "TIMEPOINT_READ_SIGNED"
    SIGN_FAILED = "SIGN_FAILED"
    TIMEPOINT_READ_UNLOCKED = "TIMEPOINT_READ_UNLOCKED"
    ACCESS_DENIED = "ACCESS_DENIED"
    ADJUDICATION_CREATED = "ADJUDICATION_CREATED"
    ADJUDICATION_DECIDED = "ADJUDICATION_DECIDED"
    ADJUDICATION_ASSIGNED = "ADJUDICATION_ASSIGNED"
    ADJUDICATION_VOIDED = "ADJUDICATION_VOIDED"
    ADJUDICATION_EVALUATION_FAILED = "ADJUDICATION_EVALUATION_FAILED"
    READ_ACCEPTED = "READ_ACCEPTED"
    INVESTIGATOR_ASSESSMENTS_IMPORTED = "INVESTIGATOR_ASSESSMENTS_IMPORTED"
    ENDPOINT_COMPUTED = "ENDPOINT_COMPUTED"
    EXPORT_CREATED = "EXPORT_CREATED"
    EXPORT_DOWNLOADED = "EXPORT_DOWNLOADED"
    AUDIT_VERIFIED = "AUDIT_VERIFIED"
    LOGIN_FAILED = "LOGIN_FAILED"
    LOGIN_LOCKED_OUT = "LOGIN_LOCKED_OUT"
    API_TOKEN_ISSUED = "API_TOKEN_ISSUED"  # noqa: S105 (an event name, not a secret)
    API_TOKEN_REVOKED = "API_TOKEN_REVOKED"  # noqa: S105
    # The confirmation workflow of unconfirmed progression (issue 15 item 4).
    CONFIRMATION_WINDOW_OPENED = "CONFIRMATION_WINDOW_OPENED"
    CONFIRMATION_WINDOW_SOURCE_ADDED = "CONFIRMATION_WINDOW_SOURCE_ADDED"
    CONFIRMATION_WINDOW_SOURCE_REMOVED = "CONFIRMATION_WINDOW_SOURCE_REMOVED"
    CONFIRMATION_WINDOW_CLOSED = "CONFIRMATION_WINDOW_CLOSED"
    CONFIRMATION_WINDOW_REOPENED = "CONFIRMATION_WINDOW_REOPENED"
    CONFIRMATION_WINDOW_OVERDUE = "CONFIRMATION_WINDOW_OVERDUE"
    CONFIRMATION_EVALUATION_FAILED = "CONFIRMATION_EVALUATION_FAILED"
    CONFIRMATION_NOTIFICATION_SENT = "CONFIRMATION_NOTIFICATION_SENT"
    CONFIRMATION_NOTIFICATION_FAILED = "CONFIRMATION_NOTIFICATION_FAILED"
    SPONSOR_CONTACT_CREATED = "SPONSOR_CONTACT_CREATED"
    SPONSOR_CONTACT_UPDATED = "SPONSOR_CONTACT_UPDATED"


class AdjudicationStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    DECIDED = "DECIDED", "Decided and signed"
    VOIDED = "VOIDED", "Voided (reads changed or became concordant)"


class AcceptanceBasis(models.TextChoices):
    """Why a subject's accepted read is the one it is (RSACPTFL provenance)."""

    RULE = "RULE", "Concordant reads: Read 1 accepted by rule"
    ADJUDICATION = "ADJUDICATION", "Chosen by the adjudicator"
    PENDING = "PENDING", "Adjudication open: no accepted read yet"


class ConfirmationOutcome(models.TextChoices):
    """How a confirmation window closed (``trialreads.confirmation_rules``)."""

    CONFIRMED = "CONFIRMED", "Progression confirmed"
    RESET = "RESET", "Progression reset (not confirmed)"
    WITHDRAWN = "WITHDRAWN", "Withdrawn (the read that showed it was reopened)"


class ConfirmationStatus(models.TextChoices):
    """A window's status as shown: DUE / OVERDUE are derived from today's date while it is open."""

    DUE = "DUE", "Confirmation scan due"
    OVERDUE = "OVERDUE", "Confirmation scan overdue"
    CONFIRMED = "CONFIRMED", "Confirmed"
    RESET = "RESET", "Reset"
    WITHDRAWN = "WITHDRAWN", "Withdrawn"


class NotificationKind(models.TextChoices):
    OPENED = "OPENED", "Confirmation window opened"
    OVERDUE = "OVERDUE", "Confirmation window overdue"


class NotificationChannel(models.TextChoices):
    EMAIL = "EMAIL", "Email"
    WEBHOOK = "WEBHOOK", "Webhook"


class NotificationStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SENT = "SENT", "Sent"
    FAILED = "FAILED", "Failed (will be retried)"
