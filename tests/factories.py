"""factory_boy factories, one per model, for tests that need rows without going through the
services (constraint and trigger tests). Service behaviour is tested through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from trialreads.choices import LesionKind, TrialRole
from trialreads.models import (
    Charter,
    ImagingTimepoint,
    Lesion,
    Measurement,
    NonTargetRating,
    Read,
    Site,
    Subject,
    TimepointRead,
    Trial,
    TrialMembership,
)

PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory[object]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    first_name = factory.LazyAttribute(lambda u: u.username.replace("_", " ").title())
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create:
            obj.save()


class TrialFactory(DjangoModelFactory[Trial]):
    class Meta:
        model = Trial

    code = factory.Sequence(lambda n: f"TRIAL-{n:03d}")
    title = factory.LazyAttribute(lambda t: f"Trial {t.code}")


class CharterFactory(DjangoModelFactory[Charter]):
    class Meta:
        model = Charter

    trial = factory.SubFactory(TrialFactory)
    version = 1
    effective_from = dt.date(2025, 1, 1)
    created_by = factory.SubFactory(UserFactory)


class SiteFactory(DjangoModelFactory[Site]):
    class Meta:
        model = Site

    trial = factory.SubFactory(TrialFactory)
    code = factory.Sequence(lambda n: f"S{n:02d}")


class MembershipFactory(DjangoModelFactory[TrialMembership]):
    class Meta:
        model = TrialMembership

    trial = factory.SubFactory(TrialFactory)
    user = factory.SubFactory(UserFactory)
    role = TrialRole.READER
    reader_label = ""


class SubjectFactory(DjangoModelFactory[Subject]):
    class Meta:
        model = Subject

    trial = factory.SubFactory(TrialFactory)
    site = factory.SubFactory(SiteFactory, trial=factory.SelfAttribute("..trial"))
    subject_code = factory.Sequence(lambda n: f"SUBJ-{n:04d}")
    randomisation_date = dt.date(2025, 1, 10)
    arm = "A"


class TimepointFactory(DjangoModelFactory[ImagingTimepoint]):
    class Meta:
        model = ImagingTimepoint

    subject = factory.SubFactory(SubjectFactory)
    sequence = factory.Sequence(lambda n: n + 1)
    visit_label = factory.LazyAttribute(lambda t: f"V{t.sequence}")
    visit_number = factory.LazyAttribute(lambda t: Decimal(t.sequence))
    scan_date_earliest = factory.LazyAttribute(
        lambda t: dt.date(2025, 1, 5) + dt.timedelta(days=42 * (t.sequence - 1))
    )
    scan_date_latest = factory.SelfAttribute("scan_date_earliest")
    is_baseline = False


class ReadFactory(DjangoModelFactory[Read]):
    class Meta:
        model = Read

    subject = factory.SubFactory(SubjectFactory)
    reader = factory.SubFactory(UserFactory)
    slot = 1


class TimepointReadFactory(DjangoModelFactory[TimepointRead]):
    class Meta:
        model = TimepointRead

    read = factory.SubFactory(ReadFactory)
    timepoint = factory.SubFactory(TimepointFactory, subject=factory.SelfAttribute("..read.subject"))


class LesionFactory(DjangoModelFactory[Lesion]):
    class Meta:
        model = Lesion

    read = factory.SubFactory(ReadFactory)
    lesion_code = factory.Sequence(lambda n: f"T{n + 1}")
    kind = LesionKind.TARGET
    organ = "liver"
    first_timepoint = factory.SubFactory(TimepointFactory, subject=factory.SelfAttribute("..read.subject"))


class MeasurementFactory(DjangoModelFactory[Measurement]):
    class Meta:
        model = Measurement

    timepoint_read = factory.SubFactory(TimepointReadFactory)
    lesion = factory.SubFactory(
        LesionFactory,
        read=factory.SelfAttribute("..timepoint_read.read"),
        first_timepoint=factory.SelfAttribute("..timepoint_read.timepoint"),
    )
    value_mm = Decimal("20.0")


class NonTargetRatingFactory(DjangoModelFactory[NonTargetRating]):
    class Meta:
        model = NonTargetRating

    timepoint_read = factory.SubFactory(TimepointReadFactory)
    lesion = factory.SubFactory(
        LesionFactory,
        read=factory.SelfAttribute("..timepoint_read.read"),
        kind=LesionKind.NON_TARGET,
        lesion_code=factory.Sequence(lambda n: f"NT{n + 1}"),
        first_timepoint=factory.SelfAttribute("..timepoint_read.timepoint"),
    )
    status = "present"
