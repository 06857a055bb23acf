"""The wheel in a fresh virtual environment, used by a fresh `django-admin startproject` host.

The host does what the README's "Use it in your own Django project" says and nothing more: its
own auth user model (swapped before the first migrate), trialreads' apps in INSTALLED_APPS, the
middleware and django-axes wiring, the URLs under /reads/, its own base template, TRIALREADS =
{...}, migrate. Then, through the public services and Django's test client: a trial, one page,
one API request, a token login locked out by brute force and issued from another address; and
the `criteria` console script on the contract's example. Nothing of this checkout is on the
host's path: the code that runs is the installed wheel's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

HOST_SETTINGS = """

# --- added by the host for trialreads (README: "Use it in your own Django project") ---
INSTALLED_APPS += [
    "accounts",
    "rest_framework",
    "knox",
    "axes",
    "django_filters",
    "drf_spectacular",
    "django_htmx",
    "trialreads",
]
MIDDLEWARE += [
    "trialreads.middleware.SessionTimeoutMiddleware",
    "trialreads.middleware.AccessDenialAuditMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "trialreads.middleware.lockout_response"
SESSION_COOKIE_AGE = 12 * 3600
AUTH_USER_MODEL = "accounts.User"
TEMPLATES[0]["DIRS"] = [BASE_DIR / "templates"]
LOGIN_URL = "trialreads-web:login"
MEDIA_ROOT = BASE_DIR / "media"
CELERY_TASK_ALWAYS_EAGER = True
TRIALREADS = {"SIGN_MAX_FAILURES": 3, "EXPORT_WINDOW_DAYS": 5}
"""

HOST_URLS = """
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("reads/", include("trialreads.urls")),
]
"""

SCENARIO = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import setup_test_environment
from accounts.models import User
from trialreads.services.trials import trial_create
import trialreads

setup_test_environment()  # what the test runner does: allows the test client's host
assert get_user_model() is User, get_user_model()
manager = User.objects.create_user("host_manager", password="host-pass-1234", is_staff=True)
trial = trial_create(code="HOST-001", title="A host's first trial", actor=manager)
client = Client()
client.force_login(manager)
page = client.get("/reads/")
api = client.get("/reads/api/trials/")
anonymous = Client().get("/reads/api/trials/")
# The token login through the host's wiring: django-axes locks the username from this address
# after 5 failures (the right password included); another address gets an expiring token.
login, as_json = "/reads/api/auth/token/", "application/json"
guesser = Client()
for i in range(5):
    guesser.post(login, {"username": "host_manager", "password": f"wrong-{i}"}, content_type=as_json)
right = {"username": "host_manager", "password": "host-pass-1234"}
locked = guesser.post(login, right, content_type=as_json)
issued = Client(REMOTE_ADDR="127.0.0.2").post(login, right, content_type=as_json)
with_token = Client(HTTP_AUTHORIZATION=f"Token {issued.json()['token']}").get("/reads/api/trials/")
print(json.dumps({
    "module": trialreads.__file__,
    "page_status": page.status_code,
    "page": page.content.decode(),
    "api_status": api.status_code,
    "api": api.json(),
    "anonymous_status": anonymous.status_code,
    "locked_status": locked.status_code,
    "issued": issued.json(),
    "with_token_status": with_token.status_code,
    "trial_id": trial.pk,
}))
"""


def _env() -> dict[str, str]:
    """The caller's environment without anything that would put this checkout on the path."""
    drop = {"PYTHONPATH", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(*cmd: str | Path, cwd: Path, timeout: int = 600) -> str:
    args = [str(c) for c in cmd]
    result = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    tail = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{tail}"
    return result.stdout


def _constraints(path: Path, pins: dict[str, str]) -> Path:
    """The lock's pins without hashes: the host gets the tested versions of the dependencies."""
    path.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()), encoding="utf-8")
    return path


def test_a_fresh_host_project_installs_and_uses_the_wheel(tmp_path: Path, lock_pins: dict[str, str]) -> None:
    dist = tmp_path / "dist"
    # The sdist first, then the wheel from the unpacked sdist (build's default): the wheel holds
    # what a release would, and nothing left over in this checkout's build/ folder.
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT, cwd=tmp_path)
    (wheel,) = dist.glob("trialreads-*.whl")
    (_sdist,) = dist.glob("trialreads-*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [str(p.relative_to(ROOT)) for p in (ROOT / "trialreads").rglob("*") if p.is_file()]
    shipped = [n for n in shipped if "__pycache__" not in n]
    assert set(shipped) <= names, sorted(set(shipped) - names)
    assert {"criteria/py.typed", "criteria/cli.py"} <= names

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    py = venv / "bin" / "python"
    _run(
        py, "-m", "pip", "install", "-q", "--disable-pip-version-check",
        "-c", _constraints(tmp_path / "constraints.txt", lock_pins), wheel, cwd=tmp_path,
    )

    host = tmp_path / "host"
    host.mkdir()
    _run(venv / "bin" / "django-admin", "startproject", "host", host, cwd=tmp_path)
    _run(py, "manage.py", "startapp", "accounts", cwd=host)
    (host / "host" / "urls.py").write_text(HOST_URLS, encoding="utf-8")
    with (host / "host" / "settings.py").open("a", encoding="utf-8") as settings:
        settings.write(HOST_SETTINGS)
    (host / "accounts" / "models.py").write_text(
        "from django.contrib.auth.models import AbstractUser\n\n\nclass User(AbstractUser):\n    pass\n",
        encoding="utf-8",
    )
    # The host's own base template, and its override of the plugin's base by name.
    (host / "templates" / "trialreads").mkdir(parents=True)
    (host / "templates" / "base.html").write_text(
        '<!doctype html><html><body class="host-site">{% block body %}{% endblock %}</body></html>',
        encoding="utf-8",
    )
    (host / "templates" / "trialreads" / "base.html").write_text(
        textwrap.dedent("""\
            {% extends "base.html" %}
            {% block body %}
            <header>HOST-CHROME <a href="{% url 'trialreads-web:worklist' %}">Reads</a></header>
            <nav>{% block nav %}{% endblock %}</nav>
            <main>{% block content %}{% endblock %}</main>
            {% endblock %}
        """),
        encoding="utf-8",
    )
    _run(py, "manage.py", "makemigrations", "accounts", cwd=host)
    _run(py, "manage.py", "migrate", "--noinput", "-v", "0", cwd=host)
    checked = _run(py, "manage.py", "check", cwd=host)
    assert "no issues" in checked

    out = json.loads(_run(py, "manage.py", "shell", "-c", SCENARIO, cwd=host).strip().splitlines()[-1])
    assert Path(out["module"]).is_relative_to(venv), out["module"]
    assert out["page_status"] == 200
    assert "HOST-CHROME" in out["page"] and 'class="host-site"' in out["page"]
    assert 'href="/reads/"' in out["page"]
    assert out["api_status"] == 200
    assert [t["code"] for t in out["api"]["results"]] == ["HOST-001"]
    assert out["anonymous_status"] in (401, 403)
    assert out["locked_status"] == 429
    assert set(out["issued"]) == {"token", "expiry"} and out["with_token_status"] == 200

    example = ROOT / "docs" / "contract" / "examples" / "response-level.json"
    expected = json.loads(example.with_name("response-level.expected.json").read_text(encoding="utf-8"))
    result = json.loads(
        _run(venv / "bin" / "criteria", "evaluate", example, "--criteria", "recist1.1", cwd=tmp_path)
    )
    recist = result["results"]["recist1.1"]
    assert recist["bor"] == expected["recist1.1"]["bor"]
    assert recist["bor_confirmed"] == expected["recist1.1"]["bor_confirmed"]
    assert recist["pfs"]["date"] == expected["recist1.1"]["pfs"]["date"]
