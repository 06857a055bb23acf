"""``python -m criteria``: see :mod:`criteria.cli`."""

from __future__ import annotations

import sys

from criteria.cli import main

if __name__ == "__main__":
    sys.exit(main())
