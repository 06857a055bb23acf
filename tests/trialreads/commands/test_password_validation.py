"""AUTH_PASSWORD_VALIDATORS apply wherever the code sets a password (the demo users, the SDTM
import's generated users): ``set_password``/``create_user`` do not run them by themselves."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from trialreads import demo_adjudication
from trialreads.management.commands import import_sdtm, load_demo

pytestmark = pytest.mark.django_db


def test_the_validators_are_on(settings: Any) -> None:
    names = [v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS]
    assert names == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]


def test_the_demo_users_get_a_valid_password_or_none(monkeypatch: pytest.MonkeyPatch) -> None:
    user = demo_adjudication.demo_user("demo_check", "Demo", "Check")
    assert user.check_password(demo_adjudication.DEMO_PASSWORD)
    monkeypatch.setattr(demo_adjudication, "DEMO_PASSWORD", "password")
    with pytest.raises(ValidationError, match="too common"):
        demo_adjudication.demo_user("demo_weak", "Demo", "Weak")
    assert not get_user_model().objects.filter(username="demo_weak").exists()


def test_the_demo_sponsor_password_is_validated(monkeypatch: pytest.MonkeyPatch, manager: Any) -> None:
    monkeypatch.setattr(load_demo, "DEMO_PASSWORD", "12345678")
    with pytest.raises(ValidationError, match="entirely numeric"):
        load_demo._sponsor_viewer(None, manager)  # type: ignore[arg-type]
    assert not get_user_model().objects.filter(username=load_demo.SPONSOR[0]).exists()


def test_the_import_users_passwords_are_validated() -> None:
    user = import_sdtm._user("sdtm-r1", "a-generated-Pa55word-of-24", name="Radiologist 1")
    assert user.check_password("a-generated-Pa55word-of-24")
    with pytest.raises(ValidationError, match="too short"):
        import_sdtm._user("sdtm-r2", "x7", name="Radiologist 2")
    assert not get_user_model().objects.filter(username="sdtm-r2").exists()
