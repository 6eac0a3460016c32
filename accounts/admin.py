from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from creditops.core.admin import BigTableAdmin

from .models import AuditEvent, Team, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = DjangoUserAdmin.fieldsets + ((_("Preferences"), {"fields": ["preferred_language"]}),)
    list_display = ["username", "first_name", "last_name", "email", "role_names", "is_active", "last_login"]
    list_filter = ["is_active", "groups", "preferred_language"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_readonly_fields(self, request, obj=None):
        # Only a superuser may make superusers or grant permissions one by one; roles go through groups.
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "user_permissions"]
        return readonly

    def has_change_permission(self, request, obj=None):
        # Nobody below superuser edits a superuser, their password included (the password view asks this).
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description=_("roles"))
    def role_names(self, user):
        return ", ".join(sorted(group.name for group in user.groups.all()))


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "name_en", "supervisor", "member_count"]
    search_fields = ["name", "name_en"]
    autocomplete_fields = ["supervisor"]
    filter_horizontal = ["members"]
    list_select_related = ["supervisor"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("members"))

    @admin.display(description=_("members"), ordering="member_total")
    def member_count(self, team):
        return team.member_total


@admin.register(AuditEvent)
class AuditEventAdmin(BigTableAdmin):
    list_display = ["created_at", "actor_label", "event", "subject_type", "subject_id"]
    # Exact matches only: they use the indexes; a DISTINCT over events for a filter sidebar would not.
    search_fields = ["subject_id__exact", "event__exact"]
    list_select_related = ["actor"]
    readonly_fields = ["created_at", "actor", "event", "subject_type", "subject_id", "detail"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
