"""The REST API under ``/api/`` (presentation only).

Views call selectors (reads) and services (writes); blinding and roles are decided by
``trialreads.access``, never here. Conventions every endpoint follows:

* Authentication: ``Authorization: Token <key>`` (``POST /api/auth/token/``: a new knox token
  per login, expiring, revoked by ``POST /api/auth/logout/``; repeated failures lock the
  username from that address, 429) or the browser session (with CSRF on writes; idle and
  absolute timeouts). Anonymous requests get 401.
* Visibility first: an object the caller may not see is ``404 {"detail":"Not found."}``,
  byte-identical to an id that does not exist; a visible object the caller's role may not
  change is an audited 403.
* Timepoint-read writes (``baseline/``, ``followup/`` PUT/PATCH, ``sign/``, ``unlock/``) need
  ``If-Match`` with the ``ETag`` of ``GET /api/timepoint-reads/<id>/``: missing -> 428,
  stale -> 412. Signed data -> 409.
* 400 bodies are ``{"detail": "Invalid input.", "errors": {"targets[0].value_mm": [...]}}``;
  unknown payload keys (``reader_id``, ``status``, ``signed_by``, ``unit`` ...) are errors.
* Lists are ``LimitOffset`` pages (``?limit=&offset=``, at most 200) with django-filter
  filters; a filter narrows what the selector already allows, never widens it.
* The schema is ``/api/schema/`` (Swagger UI at ``/api/docs/``); the committed copy is
  ``openapi.yaml``, regenerated with
  ``manage.py spectacular --validate --fail-on-warn --file trialreads/api/openapi.yaml``.
* Every route must be classified in ``tests/trialreads/api/test_blinding_matrix.py``.
"""
