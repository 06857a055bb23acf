"""What a SAS reader needs of a variable's format: its name, width and decimals.

Reader libraries spell the same NAMEFw.d format differently (pyreadstat 1.2 gives ``DATE9``,
1.3 gives ``DATE9.``), so the read-back tests compare the parts, not one library's text."""

from __future__ import annotations

import re

_FORMAT = re.compile(r"^\$?(?P<name>[A-Z_]*?)(?P<width>\d*)\.?(?P<decimals>\d*)$")


def format_parts(text: str | None) -> tuple[str, str, str] | None:
    """``"DATE9."`` and ``"DATE9"`` -> ``("DATE", "9", "")``; ``"8.2"`` -> ``("", "8", "2")``;
    no format (``None`` or ``""``) -> ``None``."""
    if not text:
        return None
    match = _FORMAT.match(text.upper())
    assert match is not None, f"not a SAS format: {text!r}"
    return match["name"], match["width"], match["decimals"]
