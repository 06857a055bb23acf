"""The one access and blinding gate (Zulip ``access_*_for``; EDC fail-closed blinding).

Rules, one per line of :data:`CAPABILITIES` and of the ``visible_*`` querysets:

* a reader sees only their own reads, never the other reader's, never the arm;
* an adjudicator sees no read, timepoint read or lesion through the read routes at all (the
  same 404 as for an id that does not exist): they see the two reads only through their
  adjudication case, as "Read A" / "Read B" over the timepoints both readers signed
  (``selectors.adjudication``), with no id. Read ids are sequential and slot 1's read is
  created first, so any read id would tell them which label is slot 1; they never see the arm;
* a read manager sees every read (to run the workflow and unlock) but not the arm;
* a sponsor viewer sees no reads at all (endpoints and exports only);
* endpoint jobs, export batches and their files: the read managers and sponsor viewers of
  the trial (``VIEW_ENDPOINTS`` / ``EXPORT``); to anyone else, review team included, they
  do not exist (``visible_endpoint_jobs`` / ``visible_export_batches``);
* confirmation windows (unconfirmed progression awaiting its confirmation scan): the read
  managers and sponsor viewers of the trial (``VIEW_CONFIRMATION``); which reads showed the
  progression only to the read manager (``FIELD_CAPABILITY``). Readers and adjudicators never
  see them: a window may come from the other reader's read, so even its existence is blinded;
* sponsor contacts (who is notified of the windows): the read managers only;
* someone without a membership sees nothing.

404 or 403 (issue 13): the answer never depends on whether an object the user may not see
exists. The rule, applied by every ``access_*_for`` and :func:`require_capability`:

1. The object named in the URL is looked up *through the user's visibility* (the
   ``visible_*`` querysets, which already filter by the role's capability). Missing, in a
   trial the user is not a member of, or of a kind their role never sees: the same
   :class:`NotFound` (404), same body. The capability is thus checked before the lookup,
   never after it: "GET /api/exports/<id>/" as a reader is a 404 whatever the id.
2. Only once the user can see that object (they would get 200 on reading it) may an
   *action* on it be refused with a :class:`PermissionDenied` (403): a reader POSTing an
   export of their own trial, a manager signing a reader's timepoint. The 403 then depends
   only on the role and the action, so it tells the user nothing they do not already know
   (the trial, or the object, is theirs to see).

``tests/trialreads/api/test_uniform_404.py`` walks every API and web route and holds every role to
rule 1; ``tests/trialreads/api/test_blinding_matrix.py`` lists where rule 2 answers 403.

"Does not exist" and "exists but is not yours" raise the same :class:`NotFound`. The gate only
reads and raises: each refusal carries an :class:`~trialreads.errors.AccessDenial` (who, which
object, why), and the request's boundary writes it as an ``ACCESS_DENIED`` audit event once the
request's transaction is over (``api.exceptions`` and ``web.views.domain_errors`` note it,
``middleware.AccessDenialAuditMiddleware`` records it), so the record survives the rollback of
``ATOMIC_REQUESTS`` or of any ``atomic()`` the refusal was raised in. Code that calls the gate
outside a request (a command, a task) records with ``services.audit.access_denials_recorded``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NoReturn

from django.db.models import Exists, OuterRef, Q, QuerySet

from trialreads import validators
from trialreads.choices import TrialRole
from trialreads.errors import AccessDenial, NotFound, PermissionDenied
from trialreads.models import (
    AdjudicationCase,
    ConfirmationWindow,
    EndpointJob,
    ExportBatch,
    ImagingTimepoint,
    Read,
    SponsorContact,
    Subject,
    TimepointRead,
    Trial,
    TrialMembership,
)
from trialreads.models.audit import GLOBAL_CHAIN

VIEW_OWN_READS = "view_own_reads"
EDIT_OWN_READ = "edit_own_read"
SIGN = "sign"
VIEW_READS_SIGNED = "view_reads_signed"
VIEW_READS_ALL = "view_reads_all"
ADJUDICATE = "adjudicate"
UNLOCK = "unlock"
MANAGE = "manage"
EXPORT = "export"
VIEW_AUDIT = "view_audit"
VIEW_ENDPOINTS = "view_endpoints"
VIEW_ARM = "view_arm"
VIEW_CONFIRMATION = "view_confirmation"

#: Role -> capabilities. Plain data; the functions below read nothing else.
CAPABILITIES: dict[str, frozenset[str]] = {
    TrialRole.READER: frozenset({VIEW_OWN_READS, EDIT_OWN_READ, SIGN}),
    TrialRole.ADJUDICATOR: frozenset({VIEW_READS_SIGNED, ADJUDICATE}),
    TrialRole.MANAGER: frozenset(
        {VIEW_READS_ALL, UNLOCK, MANAGE, EXPORT, VIEW_AUDIT, VIEW_ENDPOINTS, VIEW_CONFIRMATION}
    ),
    TrialRole.SPONSOR_VIEWER: frozenset({VIEW_ENDPOINTS, EXPORT, VIEW_ARM, VIEW_CONFIRMATION}),
}


def _user_id(user: Any) -> int | None:
    return user.pk if user is not None and getattr(user, "is_authenticated", False) else None


def role_in(user: Any, trial_id: int) -> str | None:
    uid = _user_id(user)
    if uid is None:
        return None
    return (
        TrialMembership.objects.filter(trial_id=trial_id, user_id=uid).values_list("role", flat=True).first()
    )


def capabilities_for(user: Any, trial_id: int) -> frozenset[str]:
    role = role_in(user, trial_id)
    return CAPABILITIES.get(role, frozenset()) if role else frozenset()


def has_capability(user: Any, trial_id: int, capability: str) -> bool:
    return capability in capabilities_for(user, trial_id)


def _trials_with(user: Any, *capabilities: str) -> QuerySet[TrialMembership, Any]:
    """Ids of the trials where ``user``'s role grants any of ``capabilities`` (a subquery)."""
    uid = _user_id(user)
    if uid is None:
        return TrialMembership.objects.none().values("trial_id")
    roles = [role for role, caps in CAPABILITIES.items() if caps & set(capabilities)]
    return TrialMembership.objects.filter(user_id=uid, role__in=roles).values("trial_id")


def _actor(user: Any) -> Any:
    return user if _user_id(user) is not None else None


def _deny(user: Any, object_type: str, object_id: object, detail: str = "") -> NoReturn:
    # The global chain: the event must not reveal which trial the object is in.
    after = {"detail": detail} if detail else None
    raise NotFound(denial=AccessDenial(_actor(user), object_type, object_id, GLOBAL_CHAIN, after))


def deny_permission(user: Any, object_type: str, object_id: object, capability: str) -> NoReturn:
    """For an actor who may see the object but lacks ``capability``: a 403 carrying its denial."""
    denial = AccessDenial(
        _actor(user), object_type, object_id, GLOBAL_CHAIN, {"missing_capability": capability}
    )
    raise PermissionDenied(f"Your role in this trial does not allow: {capability}.", denial=denial)


# --- visibility (the rules) ---------------------------------------------------------------


def visible_trials(user: Any) -> QuerySet[Trial]:
    return Trial.objects.filter(
        pk__in=_trials_with(user, *{c for caps in CAPABILITIES.values() for c in caps})
    )


def visible_timepoint_reads(user: Any) -> QuerySet[TimepointRead]:
    # No adjudicator line (VIEW_READS_SIGNED): see the module docstring.
    uid = _user_id(user)
    return TimepointRead.objects.filter(
        Q(read__reader_id=uid, read__subject__trial_id__in=_trials_with(user, VIEW_OWN_READS))
        | Q(read__subject__trial_id__in=_trials_with(user, VIEW_READS_ALL))
    )


def visible_reads(user: Any) -> QuerySet[Read]:
    # No adjudicator line (VIEW_READS_SIGNED): see the module docstring.
    uid = _user_id(user)
    return Read.objects.filter(
        Q(reader_id=uid, subject__trial_id__in=_trials_with(user, VIEW_OWN_READS))
        | Q(subject__trial_id__in=_trials_with(user, VIEW_READS_ALL))
    )


def visible_subjects(user: Any) -> QuerySet[Subject]:
    uid = _user_id(user)
    own_read = Read.objects.filter(subject=OuterRef("pk"), reader_id=uid)
    return Subject.objects.filter(
        (Q(trial_id__in=_trials_with(user, VIEW_OWN_READS)) & Q(Exists(own_read)))
        | Q(trial_id__in=_trials_with(user, VIEW_READS_ALL, VIEW_READS_SIGNED, VIEW_ENDPOINTS))
    )


def visible_timepoints(user: Any) -> QuerySet[ImagingTimepoint]:
    return ImagingTimepoint.objects.filter(subject__in=visible_subjects(user).values("pk"))


# --- the gate ------------------------------------------------------------------------------


def _get(qs: QuerySet[Any], user: Any, object_type: str, object_id: object) -> Any:
    try:
        # ASCII digits, 1..2^63-1: int() also reads "٣", and an id past the column's range
        # reached the database as an overflow (a 500 instead of the one 404).
        pk = validators.parse_int(str(object_id), minimum=1, maximum=validators.ID_MAX)
    except (TypeError, ValueError):
        _deny(user, object_type, str(object_id)[:60], "malformed id")
    obj = qs.filter(pk=pk).first()
    if obj is None:
        _deny(user, object_type, object_id)
    return obj


def access_trial_for(user: Any, trial_id: object) -> Trial:
    trial: Trial = _get(visible_trials(user), user, "trial", trial_id)
    return trial


def access_trial_by_code_for(user: Any, code: str) -> Trial:
    trial = visible_trials(user).filter(code=code).first()
    if trial is None:
        _deny(user, "trial", code)
    return trial


def access_subject_for(user: Any, subject_id: object) -> Subject:
    subject: Subject = _get(
        visible_subjects(user).select_related("trial", "site"), user, "subject", subject_id
    )
    return subject


def access_timepoint_for(user: Any, timepoint_id: object) -> ImagingTimepoint:
    qs = visible_timepoints(user).select_related("subject__trial")
    timepoint: ImagingTimepoint = _get(qs, user, "timepoint", timepoint_id)
    return timepoint


def access_read_for(user: Any, read_id: object) -> Read:
    qs = visible_reads(user).select_related("subject__trial", "reader")
    read: Read = _get(qs, user, "read", read_id)
    return read


def access_timepoint_read_for(user: Any, timepoint_read_id: object) -> TimepointRead:
    qs = visible_timepoint_reads(user).select_related("read__subject__trial", "read__reader", "timepoint")
    timepoint_read: TimepointRead = _get(qs, user, "timepoint_read", timepoint_read_id)
    return timepoint_read


def visible_endpoint_jobs(user: Any) -> QuerySet[EndpointJob]:
    return EndpointJob.objects.filter(trial_id__in=_trials_with(user, VIEW_ENDPOINTS))


def visible_export_batches(user: Any) -> QuerySet[ExportBatch]:
    return ExportBatch.objects.filter(trial_id__in=_trials_with(user, EXPORT))


def access_endpoint_job_for(user: Any, job_id: object) -> EndpointJob:
    job: EndpointJob = _get(visible_endpoint_jobs(user), user, "endpoint_job", job_id)
    return job


def access_export_batch_for(user: Any, batch_id: object) -> ExportBatch:
    batch: ExportBatch = _get(
        visible_export_batches(user).select_related("trial"), user, "export_batch", batch_id
    )
    return batch


def visible_confirmation_windows(user: Any) -> QuerySet[ConfirmationWindow]:
    return ConfirmationWindow.objects.filter(subject__trial_id__in=_trials_with(user, VIEW_CONFIRMATION))


def access_trial_with_for(user: Any, trial_id: object, capability: str) -> Trial:
    """A trial, for an object kind that only ``capability`` shows: to a member whose role lacks
    it the kind does not exist, so the trial answers the same 404 as to a non-member (rule 1)."""
    trial: Trial = _get(Trial.objects.filter(pk__in=_trials_with(user, capability)), user, "trial", trial_id)
    return trial


def visible_sponsor_contacts(user: Any) -> QuerySet[SponsorContact]:
    return SponsorContact.objects.filter(trial_id__in=_trials_with(user, MANAGE))


def access_sponsor_contact_for(user: Any, contact_id: object) -> SponsorContact:
    contact: SponsorContact = _get(visible_sponsor_contacts(user), user, "sponsor_contact", contact_id)
    return contact


def require_capability(
    user: Any, trial_id: int, capability: str, object_type: str, object_id: object
) -> None:
    """Refuse (403, audited at the boundary) an action on an object the actor can see (rule 2 of the module
    docstring: call it only after an ``access_*_for`` returned that object)."""
    if not has_capability(user, trial_id, capability):
        deny_permission(user, object_type, object_id, capability)


def can_view_arm(user: Any, trial_id: int) -> bool:
    """Treatment arm: only the sponsor side sees it; the whole review team is blind."""
    return has_capability(user, trial_id, VIEW_ARM)


# --- field-level blinding ---------------------------------------------------------------------

#: Blinded fields (model, field) -> the capability that shows them. One line per field; the
#: API's serializers and reader filter (through :class:`Viewer`) and the admin read nothing else.
#: Reader identity (who read it, which slot, the signature's printed name) is also shown to
#: the reader themselves (:meth:`Viewer.sees_reader_identity`); never to the adjudicator, for
#: whom the two reads are "A" and "B" in an order drawn per case.
FIELD_CAPABILITY: dict[tuple[str, str], str] = {
    ("subject", "arm"): VIEW_ARM,
    ("read", "reader"): MANAGE,
    ("read", "slot"): MANAGE,
    ("signature", "printed_name"): MANAGE,
    # Which timepoint reads showed (or decided) an unconfirmed progression: reader work.
    ("confirmation_window", "source_timepoint_reads"): MANAGE,
    ("confirmation_window", "closing_timepoint_read"): MANAGE,
}
READER_IDENTITY = FIELD_CAPABILITY[("read", "reader")]

#: The Django admin is a staff viewer with a read manager's field visibility: reads, readers and
#: slots to run the workflow, never the arm (review staff are blinded).
ADMIN_VIEWS_AS = TrialRole.MANAGER


def admin_hidden_fields(model: str) -> tuple[str, ...]:
    """The fields of ``model`` (lower-case model name) the admin must not show."""
    caps = CAPABILITIES[ADMIN_VIEWS_AS]
    return tuple(f for (m, f), cap in FIELD_CAPABILITY.items() if m == model and cap not in caps)


def admin_fields(model: str, fields: tuple[str, ...]) -> tuple[str, ...]:
    """``fields`` without those the admin must not show (for ``list_display`` and the like)."""
    hidden = set(admin_hidden_fields(model))
    return tuple(f for f in fields if f not in hidden)


@dataclasses.dataclass
class Viewer:
    """The requesting user's roles, loaded once per request (one query, whatever the page
    size), so field-level decisions do not cost a query per row."""

    user: Any
    roles: dict[int, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, user: Any) -> Viewer:
        if _user_id(user) is None:
            return cls(user)
        rows = TrialMembership.objects.filter(user_id=user.pk).values_list("trial_id", "role")
        return cls(user, dict(rows))

    def can(self, trial_id: int, capability: str) -> bool:
        role = self.roles.get(trial_id)
        return role is not None and capability in CAPABILITIES.get(role, frozenset())

    def sees_field(self, trial_id: int, model: str, field: str) -> bool:
        return self.can(trial_id, FIELD_CAPABILITY[(model, field)])

    def sees_arm(self, trial_id: int) -> bool:
        return self.sees_field(trial_id, "subject", "arm")

    def sees_reader_identity(self, trial_id: int, reader_id: int) -> bool:
        """Who read it (and which slot, and the signature's name): the reader themselves and
        the read manager. Never the adjudicator."""
        return reader_id == _user_id(self.user) or self.can(trial_id, READER_IDENTITY)

    def trials_with_reader_identity(self) -> list[int]:
        """The trials where every read's reader may be shown (and filtered on)."""
        return [trial_id for trial_id in self.roles if self.can(trial_id, READER_IDENTITY)]


def can_see_reader_identity(user: Any, trial_id: int, reader_id: int) -> bool:
    """One-off form of :meth:`Viewer.sees_reader_identity` (one query)."""
    return Viewer.load(user).sees_reader_identity(trial_id, reader_id)


# --- adjudication ---------------------------------------------------------------------------


def visible_adjudication_cases(user: Any) -> QuerySet[AdjudicationCase]:
    """Read managers: every case of their trials. Adjudicators: the cases assigned to them.
    Readers, sponsor viewers, outsiders: none (a case reveals that the reads disagree and
    what the other read says)."""
    uid = _user_id(user)
    if uid is None:
        return AdjudicationCase.objects.none()
    return AdjudicationCase.objects.filter(
        Q(subject__trial_id__in=_trials_with(user, VIEW_READS_ALL))
        | Q(adjudicator_id=uid, subject__trial_id__in=_trials_with(user, ADJUDICATE))
    )


def adjudication_comparable(
    by_slot: dict[int, list[TimepointRead]],
) -> dict[int, list[TimepointRead]]:
    """What the adjudicator may see of the two reads (given their signed timepoint reads by
    slot): only the timepoints both readers signed. A half-signed timepoint is not comparable,
    and a read is never shown before its author signed it."""
    common = {tr.timepoint_id for tr in by_slot[1]} & {tr.timepoint_id for tr in by_slot[2]}
    return {slot: [tr for tr in trs if tr.timepoint_id in common] for slot, trs in by_slot.items()}


def access_adjudication_for(user: Any, case_id: object) -> AdjudicationCase:
    qs = visible_adjudication_cases(user).select_related("subject__trial")
    case: AdjudicationCase = _get(qs, user, "adjudication_case", case_id)
    return case
