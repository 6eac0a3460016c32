from django.utils.translation import gettext_lazy as _
from rest_framework import permissions

from .models import ApiKey


class KeyScopeAllows(permissions.BasePermission):
    """Signed in (by key or staff session); a read-only key may only read."""

    message = _("This API key may only read.")

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS or not isinstance(request.auth, ApiKey):
            return True
        return request.auth.allows_writes


def has_model_permission(permission: str):
    """A permission class: the user also holds `permission` (e.g. lending.add_payment)."""

    class HasModelPermission(KeyScopeAllows):
        def has_permission(self, request, view):
            if not super().has_permission(request, view):
                return False
            if not request.user.has_perm(permission):
                self.message = _("Your role may not do this.")
                return False
            return True

    return HasModelPermission
