"""Logins and API tokens: the throttled password check behind both entry points (the login
page and ``POST /api/auth/token/``) and the life of the per-login API tokens.

django-axes counts failed logins per username and client address and refuses a locked pair
before any password is checked (``AXES_FAILURE_LIMIT`` failures lock it for
``AXES_COOLOFF_TIME``). These services put every outcome in the audit trail, as signing does
with ``SIGN_FAILED``: each failure and each refusal in its own transaction, so it stays recorded
although the request fails. A login belongs to no trial, so its events go to the global chain
(as ``ACCESS_DENIED`` does). The attempted username is the event's object, never its actor: it
is unverified, and may not even exist.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address, get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from knox.models import AuthToken

from trialreads import conf
from trialreads.choices import AuditEventType
from trialreads.errors import LoginLockedOut, PermissionDenied, ValidationError
from trialreads.models import AuditEvent
from trialreads.models.audit import GLOBAL_CHAIN
from trialreads.services.audit import audit_record

#: The one message for a wrong password and an unknown username (no user enumeration).
INVALID_CREDENTIALS = "unable to log in with these credentials"


def lockout_message(request: HttpRequest | None = None) -> str:
    cool_off = get_cool_off(request)
    if cool_off is None:
        return (
            "Too many failed login attempts for this username from this address; "
            "ask an administrator to unlock it."
        )
    minutes = max(1, math.ceil(cool_off.total_seconds() / 60))
    return (
        "Too many failed login attempts for this username from this address; "
        f"try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )


def _locked_out(request: HttpRequest) -> LoginLockedOut:
    cool_off = get_cool_off(request)
    return LoginLockedOut(
        lockout_message(request), retry_after=int(cool_off.total_seconds()) if cool_off else None
    )


def _record_login_event(
    request: HttpRequest, event_type: AuditEventType, username: str, reason: str, **after: Any
) -> None:
    with transaction.atomic():
        audit_record(
            chain_id=GLOBAL_CHAIN,
            event_type=event_type,
            actor=None,
            object_type="login",
            object_id=username,
            after={"ip_address": get_client_ip_address(request), "path": request.path, **after},
            reason=reason,
        )


def login_authenticate(*, request: HttpRequest, username: str, password: str) -> Any:
    """The user these credentials belong to, through django-axes' lockout.

    Raises :class:`LoginLockedOut` (429) when this username is locked from this address,
    whether it was before the attempt (the password is then not checked: ``LOGIN_LOCKED_OUT``)
    or this failure reached the limit (``LOGIN_FAILED`` then ``LOGIN_LOCKED_OUT``), and
    :class:`ValidationError` (400) for a wrong or unknown username or password
    (``LOGIN_FAILED``). Takes the request because the lockout is per client address.
    """
    credentials = {"username": username}
    limit = get_failure_limit(request, credentials)
    if getattr(settings, "AXES_ENABLED", True) and not AxesProxyHandler.is_allowed(request, credentials):
        reason = "attempt refused while locked out (password not checked)"
        _record_login_event(request, AuditEventType.LOGIN_LOCKED_OUT, username, reason, limit=limit)
        raise _locked_out(request)
    user = authenticate(request, username=username, password=password)
    if user is not None:
        return user
    # django-axes counted the failure (its user_login_failed receiver) and flags the request
    # when this failure reached the limit.
    failures = getattr(request, "axes_failures_since_start", None)
    _record_login_event(
        request,
        AuditEventType.LOGIN_FAILED,
        username,
        "wrong username or password",
        failures=failures,
        limit=limit,
    )
    if getattr(request, "axes_locked_out", False):
        _record_login_event(
            request,
            AuditEventType.LOGIN_LOCKED_OUT,
            username,
            f"locked out after {failures if failures is not None else limit} failed attempts",
            failures=failures,
            limit=limit,
        )
        raise _locked_out(request)
    raise ValidationError(INVALID_CREDENTIALS)


def api_token_issue(*, request: HttpRequest, actor: Any) -> tuple[AuthToken, str]:
    """A new API token for ``actor`` (one per login, never reused), valid for
    ``TRIALREADS["API_TOKEN_TTL_MINUTES"]``; returns the stored row (which keeps only the
    token's hash) and the token itself, shown to the client once.

    Sends ``user_logged_in`` as ``django.contrib.auth.login`` does, so ``last_login`` is set and
    django-axes clears the failures of this username and address."""
    ttl = dt.timedelta(minutes=conf.get("API_TOKEN_TTL_MINUTES"))
    with transaction.atomic():
        instance, key = AuthToken.objects.create(user=actor, expiry=ttl)
        audit_record(
            chain_id=GLOBAL_CHAIN,
            event_type=AuditEventType.API_TOKEN_ISSUED,
            actor=actor,
            object_type="api_token",
            object_id=instance.token_key,
            after={"expiry": instance.expiry, "ip_address": get_client_ip_address(request)},
        )
    user_logged_in.send(sender=actor.__class__, request=request, user=actor)
    return instance, key


def _token_revoked_record(*, token: AuthToken, actor: Any, reason: str) -> None:
    audit_record(
        chain_id=GLOBAL_CHAIN,
        event_type=AuditEventType.API_TOKEN_REVOKED,
        actor=actor,
        object_type="api_token",
        object_id=token.token_key,
        reason=reason,
    )


def api_token_revoke(*, token: AuthToken, actor: Any) -> None:
    """Log out one API token (the one the request came with)."""
    with transaction.atomic():
        _token_revoked_record(token=token, actor=actor, reason="logout")
        token.delete()


def api_tokens_revoke_all(*, actor: Any) -> int:
    """Log out every API token of ``actor``; returns how many were revoked."""
    with transaction.atomic():
        tokens = list(AuthToken.objects.select_for_update().filter(user=actor))
        for token in tokens:
            _token_revoked_record(token=token, actor=actor, reason="logout of all tokens")
        AuthToken.objects.filter(pk__in=[t.pk for t in tokens]).delete()
    return len(tokens)


def _recent_sign_failures(actor: Any) -> int:
    since = timezone.now() - dt.timedelta(minutes=conf.get("SIGN_LOCKOUT_MINUTES"))
    return AuditEvent.objects.filter(
        actor_id=actor.pk, event_type=AuditEventType.SIGN_FAILED, ts__gte=since
    ).count()


def signature_reauthenticate(
    *, actor: Any, password: object, chain_id: str, object_type: str, object_id: int
) -> None:
    """The re-authentication of every e-signature (reads and adjudication decisions;
    21 CFR 11.200): one lockout counter per user, the password checked again, and every
    failure audited as SIGN_FAILED in its own transaction, so that it stays recorded although
    the request fails. Raises PermissionDenied on failure."""
    def failed(why: str) -> None:
        with transaction.atomic():
            audit_record(
                chain_id=chain_id,
                event_type=AuditEventType.SIGN_FAILED,
                actor=actor,
                object_type=object_type,
                object_id=object_id,
                reason=why,
            )

    if _recent_sign_failures(actor) >= conf.get("SIGN_MAX_FAILURES"):
        failed("locked out after repeated failures")
        raise PermissionDenied("Signing is locked after repeated failed attempts; try again later.")
    if not isinstance(password, str) or not actor.check_password(password):
        failed("wrong password")
        raise PermissionDenied("Re-authentication failed.")
