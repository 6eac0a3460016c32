"""One error type for every broken business rule, each with a stable machine-readable code."""


class DomainError(Exception):
    """A business rule refused an operation; `code` is stable (e.g. `payment.duplicate_conflict`)."""

    code = "domain.error"

    def __init__(self, message: str, *, code: str | None = None, detail: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.detail = detail or {}

    def __str__(self):
        return self.message
