"""Session lifetime, the recording of access denials, and the login lockout answer.

:class:`AccessDenialAuditMiddleware` writes the ``ACCESS_DENIED`` audit events of a request
once its view has returned: the access gate only raises (``access.py``), the API exception
handler and the web views' error decorator :func:`note_denial` what it refused, and this
middleware records each noted denial exactly once, in its own transaction. It runs outside
the view, so outside ``ATOMIC_REQUESTS`` (which wraps the view only) and outside any
``atomic()`` the view raised in: the record survives their rollback. A system check
(``trialreads.E004``) refuses a project that leaves it out.

:class:`SessionTimeoutMiddleware` logs out a browser session that was idle for
``TRIALREADS["SESSION_IDLE_TIMEOUT_MINUTES"]`` or is older than ``SESSION_COOKIE_AGE`` since
login. It only logs out and lets the request go on: the pages' ``login_required`` then sends
the browser to the login page and the API answers 401, exactly as for anyone not logged in.
Django's own cookie age is not enough for the absolute limit: it is renewed whenever the
session is saved, which the activity stamp does.

:func:`lockout_response` is django-axes' ``AXES_LOCKOUT_CALLABLE``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from importlib import import_module

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse

from trialreads import conf
from trialreads.errors import AccessDenial
from trialreads.services.audit import access_denied_record
from trialreads.services.auth import lockout_message

#: The request attribute holding the denials noted while handling it.
DENIALS_ATTR = "_trialreads_access_denials"

#: Session keys: when the login happened and when the session was last used (epoch seconds).
SESSION_STARTED = "trialreads_session_started"
SESSION_LAST_SEEN = "trialreads_session_last_seen"
#: The activity stamp is rewritten at most this often: no session write on every request.
ACTIVITY_RESOLUTION_SECONDS = 60


#: What a session key can be (Django makes them of lower-case letters and digits, 32 long): a
#: cookie that is anything else cannot name a session, and PostgreSQL refuses to look up a key
#: with a NUL byte (a 500 instead of an anonymous request).
_SESSION_KEY_TEXT = re.compile(r"[A-Za-z0-9]{1,64}")


def _drop_forged_session_cookie(request: HttpRequest) -> None:
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if key is not None and not _SESSION_KEY_TEXT.fullmatch(key):
        request.session = import_module(settings.SESSION_ENGINE).SessionStore(None)


def _authenticated(request: HttpRequest) -> bool:
    """A user logged in through this session. A token-authenticated API request also ends with
    ``request.user`` set (DRF copies it onto the Django request), but it has no session login:
    stamping it would create a session row for every token request."""
    user = getattr(request, "user", None)
    session = getattr(request, "session", None)
    return (
        user is not None and bool(user.is_authenticated) and session is not None and SESSION_KEY in session
    )


def note_denial(request: object, exc: BaseException) -> None:
    """Remember the gate's refusal carried by ``exc`` (if any) for
    :class:`AccessDenialAuditMiddleware`; ``request`` may be DRF's ``Request`` (its Django
    request is where the middleware looks). Noting the same denial twice keeps one."""
    denial = getattr(exc, "denial", None)
    if not isinstance(denial, AccessDenial):
        return
    django_request = getattr(request, "_request", request)
    noted: list[AccessDenial] = django_request.__dict__.setdefault(DENIALS_ATTR, [])
    if not any(seen is denial for seen in noted):
        noted.append(denial)


class AccessDenialAuditMiddleware:
    """Records the access denials noted during the request (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        finally:
            # Also when the view failed past every handler (a 500): the refusal happened.
            for denial in request.__dict__.pop(DENIALS_ATTR, []):
                access_denied_record(denial=denial)


class SessionTimeoutMiddleware:
    """Place after ``AuthenticationMiddleware`` and ``MessageMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        _drop_forged_session_cookie(request)
        if _authenticated(request):
            self._check(request)
        response = self.get_response(request)
        if _authenticated(request) and SESSION_STARTED not in request.session:
            # The login request itself: the clock starts at login.
            now = time.time()
            request.session[SESSION_STARTED] = request.session[SESSION_LAST_SEEN] = now
        return response

    @staticmethod
    def _check(request: HttpRequest) -> None:
        session, now = request.session, time.time()
        started, last_seen = session.get(SESSION_STARTED), session.get(SESSION_LAST_SEEN)
        idle_limit = conf.get("SESSION_IDLE_TIMEOUT_MINUTES") * 60
        why = ""
        if isinstance(started, int | float) and now - started > settings.SESSION_COOKIE_AGE:
            hours = math.ceil(settings.SESSION_COOKIE_AGE / 3600)
            why = f"Your session ended {hours} hour{'s' if hours != 1 else ''} after you logged in."
        elif isinstance(last_seen, int | float) and now - last_seen > idle_limit:
            minutes = idle_limit // 60
            why = f"Your session ended after {minutes} minutes without activity."
        if why:
            logout(request)  # flushes the session; request.user is anonymous from here on
            if hasattr(request, "_messages"):
                messages.info(request, f"{why} Log in again.")
            return
        if not isinstance(started, int | float):
            session[SESSION_STARTED] = now
        if not isinstance(last_seen, int | float) or now - last_seen >= ACTIVITY_RESOLUTION_SECONDS:
            session[SESSION_LAST_SEEN] = now


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: object = None
) -> HttpResponse:
    """django-axes calls this when a login attempt locked the username+address out.

    The login page and the token endpoint already answered that attempt with their own 429
    (the form with its message, the API's JSON error; ``services.auth.login_authenticate``),
    which is kept. Any other login (the admin's) gets a plain 429 with the same message."""
    if original_response is not None and original_response.status_code == 429:
        return original_response
    return HttpResponse(lockout_message(request), status=429, content_type="text/plain; charset=utf-8")
