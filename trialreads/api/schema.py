"""OpenAPI extensions of the API (registered by importing this module, which ``views`` does)."""

from __future__ import annotations

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme


class TokenScheme(KnoxTokenScheme):  # type: ignore[no-untyped-call]
    """knox tokens under the scheme name the schema had with DRF's tokens (``tokenAuth``):
    same header, same ``Token`` prefix, so generated clients keep working unchanged."""

    name = "tokenAuth"
    priority = 1
