"""What drf-spectacular cannot infer: the API-key scheme and the errors every operation can answer."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .authentication import KEYWORD

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error. `code` is stable: a DRF code (invalid, not_authenticated, "
    "authentication_failed, permission_denied, not_found, method_not_allowed, throttled) or a business "
    "rule (e.g. payment.duplicate_conflict, contact.quiet_hours).",
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string", "description": "For people, in the request's language."},
        "detail": {
            "type": "object",
            "additionalProperties": True,
            "description": "Field errors ({field: [messages]}) or the facts of the rule that refused.",
        },
    },
    "required": ["code", "message", "detail"],
}
# Status → description, answered by any operation (where it applies); writes may also meet a rule.
COMMON_ERRORS = {
    "400": "Bad input: a filter, a field or the body is not valid (`detail` names each field).",
    "401": "No credentials, or an unknown or revoked API key.",
    "403": "The key is read-only, or the user's role may not do this.",
    "404": "Not found, or not in the user's scope (another collector's case).",
    "405": "The method is not allowed here.",
    "406": "The requested representation is not available (JSON, or the PDF).",
    "415": "The body is not JSON.",
    "429": "Too many requests for this key; retry after `Retry-After` seconds.",
}

WRITE_ERRORS = {
    "413": "The body is larger than the API accepts (`detail.max_bytes`).",
    "422": "A business rule refused the request; `code` names the rule (e.g. payment.amount_invalid, "
    "promise.date_past) and `message` says why.",
}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "creditops.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"`{KEYWORD} <key>`; keys are issued (and revoked) in the admin under API keys.",
        }


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: the Error component, and each common error on every operation that does not
    describe it more precisely."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            _mark_empty_values_allowed(operation)
            responses = operation.setdefault("responses", {})
            errors = {**COMMON_ERRORS, **(WRITE_ERRORS if method == "post" else {})}
            for status, description in errors.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    response["content"] = reference
    return result


def _mark_empty_values_allowed(operation):
    """`?dpd_min=` (an empty filter) means "no filter", as in the portal's forms; say so."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and not parameter.get("required"):
            parameter["allowEmptyValue"] = True
