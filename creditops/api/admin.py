import functools

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from accounts.models import User

from . import services
from .models import ApiKey


class ApiKeyIssueForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "user", "scope"]

    def __init__(self, *args, issuer=None, **kwargs):
        super().__init__(*args, **kwargs)
        users = User.objects.filter(is_active=True).order_by("username")
        if not (issuer and issuer.is_superuser):
            users = users.filter(is_superuser=False)
        self.fields["user"].queryset = users
        self.fields["user"].help_text = _("The key sees and may do what this user's roles allow.")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are issued here (the key is shown once) and revoked; never edited or deleted, so the audit
    trail's references to them stay meaningful."""

    list_display = ["name", "prefix", "user", "scope", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["name", "user", "scope", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyIssueForm
        form_class = super().get_form(request, obj, **kwargs)
        if obj is None:
            return functools.partial(form_class, issuer=request.user)
        return form_class

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return ApiKeyIssueForm.Meta.fields if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        api_key, key = services.api_key_issue(
            name=form.cleaned_data["name"], user=form.cleaned_data["user"], scope=form.cleaned_data["scope"],
            actor=request.user,
        )  # fmt: skip
        obj.pk = api_key.pk
        message = _("Key issued. Copy it now, it is not shown again: %(key)s") % {"key": key}
        self.message_user(request, message, messages.WARNING)

    def has_change_permission(self, request, obj=None):
        return False if obj is not None and request.method == "POST" else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Revoke selected keys"), permissions=["add"])
    def revoke(self, request, queryset):
        for api_key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(api_key=api_key, actor=request.user)
        self.message_user(request, _("Keys revoked."), messages.SUCCESS)
