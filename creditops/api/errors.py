"""Every API error has one shape: {"code": "...", "message": "...", "detail": {...}}.

`code` is stable and machine-readable (a DRF error code such as `not_found`, or a domain rule such as
`contact.quiet_hours`); `message` is for people, in the request's language; `detail` holds field errors
(`{"field": ["…"]}`) or the rule's facts."""

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from creditops.core.errors import DomainError

# A business rule refusing a well-formed request answers 422, except these. Conflicts are about the state
# of a record rather than the request: the record has moved on (or someone posted the same reference
# with other details).
CONFLICT_CODES = {
    "payment.duplicate_conflict",
    "payment.already_reversed",
    "payment.credit_used",
    "case.closed",
}
FORBIDDEN_CODES = {"case.forbidden"}


def error_body(code: str, message: str, detail=None) -> dict:
    return {"code": code, "message": str(message), "detail": detail or {}}


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.detail), status=_domain_status(exc))
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        return _too_large()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let Django report it as one
    set_rollback()
    response = Response(_body_of(exc), status=exc.status_code)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        response["Retry-After"] = str(int(exc.wait))
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        response["WWW-Authenticate"] = auth_header
    return response


def _too_large() -> Response:
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE: Django refuses to read it; the caller hears how much fits."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    message = _("The request body is larger than the %(limit)d bytes the API accepts.") % {"limit": limit}
    body = error_body("request_too_large", message, {"max_bytes": limit})
    return Response(body, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)


def _domain_status(exc: DomainError) -> int:
    if exc.code in CONFLICT_CODES:
        return status.HTTP_409_CONFLICT
    if exc.code in FORBIDDEN_CODES:
        return status.HTTP_403_FORBIDDEN
    return status.HTTP_422_UNPROCESSABLE_ENTITY


def _body_of(exc: exceptions.APIException) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error_body("invalid", _("The request is not valid; see detail for each field."), detail)
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    detail = {"wait_seconds": int(exc.wait)} if isinstance(exc, exceptions.Throttled) and exc.wait else {}
    return error_body(code, exc.detail, detail)
