"""Who may open the collections screens at all (the finer scope is in dunning.selectors)."""

from django.core.exceptions import PermissionDenied

from .. import selectors


def require_case_reader(user) -> dict:
    abilities = selectors.portal_abilities(user)
    if not abilities["reads_cases"]:
        raise PermissionDenied
    return abilities


def require_supervisor(user) -> dict:
    abilities = require_case_reader(user)
    if not abilities["supervises"]:
        raise PermissionDenied
    return abilities
