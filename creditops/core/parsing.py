"""Reading ids and numbers that arrive in URLs and query strings, where anything may be typed."""

import re

# Positive ids that fit a 64-bit column (SQLite raises on anything larger, PostgreSQL answers nothing).
ID_PATTERN = re.compile(r"[0-9]{1,18}")


def parse_id(text: str | None) -> int | None:
    """The id in `text`, or None when it is not one (empty, signed, decimal, too long, non-ASCII digits)."""
    if text and ID_PATTERN.fullmatch(text):
        return int(text)
    return None
