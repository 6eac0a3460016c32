"""Mask personal data in lists; revealing the full value is a separate, audited action."""


def mask_id_number(value: str) -> str:
    """Keep the first 3 and last 4 characters: 110105********1234."""
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_phone(value: str) -> str:
    """Keep the country code and the last 4 digits: +86*******5678."""
    if not value:
        return ""
    prefix = value[:3] if value.startswith("+") else ""
    hidden = len(value) - len(prefix) - 4
    return prefix + "*" * max(hidden, 0) + value[-4:]
