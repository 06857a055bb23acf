"""Query filters. Every filter narrows a queryset the selectors have already restricted to
what the viewer may see, so no filter can widen visibility. Ids are matched as plain
numbers (never ``ModelChoiceFilter``, whose "not a valid choice" error would reveal
whether an invisible object exists)."""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django import forms
from django.db.models import Q, QuerySet

from trialreads import access
from trialreads.choices import AuditEventType, ReadStatus
from trialreads.models import AuditEvent, ImagingTimepoint, Read, Subject, TimepointRead, Trial

MAX_ID = 2**63 - 1


class IdFilter(filters.NumberFilter):  # type: ignore[misc]
    """A positive 64-bit integer id (larger numbers are a 400, not a database overflow)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class TrialFilter(filters.FilterSet):  # type: ignore[misc]
    code = filters.CharFilter(field_name="code")

    class Meta:
        model = Trial
        fields = ["code"]


class SubjectFilter(filters.FilterSet):  # type: ignore[misc]
    site = filters.CharFilter(field_name="site__code", label="Site code")

    class Meta:
        model = Subject
        fields = ["site"]


class ReadFilter(filters.FilterSet):  # type: ignore[misc]
    trial = IdFilter(field_name="subject__trial_id")
    subject = IdFilter(field_name="subject_id")
    status = filters.ChoiceFilter(choices=ReadStatus.choices)
    reader = IdFilter(method="filter_reader", label="Reader user id")

    class Meta:
        model = Read
        fields = ["trial", "subject", "status", "reader"]

    def filter_reader(self, qs: QuerySet[Read], name: str, value: Any) -> QuerySet[Read]:
        # Only where the viewer may know who read it (themselves; a manager's trials):
        # otherwise an adjudicator could learn which read is whose by filtering.
        user = self.request.user if self.request is not None else None
        viewer = access.Viewer.load(user)
        identified = viewer.trials_with_reader_identity()
        return qs.filter(reader_id=value).filter(
            Q(reader_id=getattr(user, "pk", None)) | Q(subject__trial_id__in=identified)
        )


class AuditFilter(filters.FilterSet):  # type: ignore[misc]
    user = filters.CharFilter(field_name="actor_username", label="Username of the actor")
    event_type = filters.ChoiceFilter(choices=AuditEventType.choices)
    subject = IdFilter(
        method="filter_subject",
        label="Subject id: events about it, its timepoints, reads and timepoint reads",
    )

    class Meta:
        model = AuditEvent
        fields = ["user", "event_type", "subject"]

    def filter_subject(self, qs: QuerySet[AuditEvent], name: str, value: Any) -> QuerySet[AuditEvent]:
        subject_id = int(value)
        refs = {
            "subject": [subject_id],
            "timepoint": list(
                ImagingTimepoint.objects.filter(subject_id=subject_id).values_list("pk", flat=True)
            ),
            "read": list(Read.objects.filter(subject_id=subject_id).values_list("pk", flat=True)),
            "timepoint_read": list(
                TimepointRead.objects.filter(read__subject_id=subject_id).values_list("pk", flat=True)
            ),
        }
        condition = Q(pk__in=[])
        for object_type, ids in refs.items():
            if ids:
                condition |= Q(object_type=object_type, object_id__in=[str(i) for i in ids])
        return qs.filter(condition)


# ``from``/``to`` are Python keywords, so they are added by name.
AuditFilter.base_filters["from"] = filters.IsoDateTimeFilter(
    field_name="ts", lookup_expr="gte", label="From (inclusive), ISO 8601"
)
AuditFilter.base_filters["to"] = filters.IsoDateTimeFilter(
    field_name="ts", lookup_expr="lt", label="To (exclusive), ISO 8601"
)
