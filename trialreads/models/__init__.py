"""Models of the app, one module per aggregate."""

from .adjudication import AcceptedRead, AdjudicationCase, InvestigatorAssessment
from .audit import AuditEvent, ChainHead
from .confirmation import ConfirmationNotification, ConfirmationWindow, SponsorContact
from .endpoint import EndpointAnalysis, EndpointJob, EndpointRun, ExportBatch
from .read import Lesion, Measurement, NonTargetRating, Read, Signature, TimepointRead, signed_q
from .subject import ImagingTimepoint, Subject
from .trial import Charter, Site, Trial, TrialMembership

__all__ = [
    "AcceptedRead",
    "AdjudicationCase",
    "AuditEvent",
    "ChainHead",
    "Charter",
    "ConfirmationNotification",
    "ConfirmationWindow",
    "EndpointAnalysis",
    "EndpointJob",
    "EndpointRun",
    "ExportBatch",
    "ImagingTimepoint",
    "InvestigatorAssessment",
    "Lesion",
    "Measurement",
    "NonTargetRating",
    "Read",
    "Signature",
    "Site",
    "SponsorContact",
    "Subject",
    "TimepointRead",
    "Trial",
    "TrialMembership",
    "signed_q",
]
