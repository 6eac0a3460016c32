"""What every ledger admin shares: the case scope (who sees which borrower's ledger) and the rule that
ledger rows are written by services only. lending/admin.py and lending/admin_entries.py build on it."""

from creditops.core.admin import BigTableAdmin

from .models import Borrower


class CaseScopedLedgerMixin:
    """Staff who do not see every case (collectors, supervisors) see the ledger of the borrowers whose
    cases they may see, through `borrower_path`; any other id answers 404 (BigTableAdmin)."""

    borrower_path = "borrower"
    # Holders of this permission (or of any of a tuple of them) see every row (those who post bank
    # payments see every payment).
    unscoped_permission: str | tuple[str, ...] = ""

    def get_queryset(self, request):
        # Imported here: the case scope is the collections app's, which is built on this one.
        from dunning.selectors import borrowers_visible_to, sees_every_case

        queryset = super().get_queryset(request)
        permissions = self.unscoped_permission
        permissions = (permissions,) if isinstance(permissions, str) else permissions
        unscoped = any(permission and request.user.has_perm(permission) for permission in permissions)
        if unscoped or sees_every_case(request.user):
            return queryset
        return queryset.filter(**{f"{self.borrower_path}__in": borrowers_visible_to(request.user).values("pk")})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # A form may name only a borrower the user sees: a contact cannot be attached to someone else's.
        from dunning.selectors import borrowers_visible_to, sees_every_case

        if db_field.related_model is Borrower and not sees_every_case(request.user):
            kwargs["queryset"] = borrowers_visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class LedgerRowAdmin(BigTableAdmin):
    """Ledger rows are written only by services; nobody edits or deletes them here."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
