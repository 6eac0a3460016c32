"""Notices in the admin: read-only records (an issued notice never changes), each with its PDF; letters are
printed from here in batches; print batches keep their merged PDF."""

from django.contrib import admin, messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from creditops.core.errors import DomainError
from dunning.admin import ReadOnlyAdmin, ScopedReadOnlyAdmin
from dunning.selectors import sees_every_case

from .models import Notice, NoticeDelivery, PrintBatch
from .services.printing import print_batch_create


class NoticeDeliveryInline(admin.TabularInline):
    model = NoticeDelivery
    extra = 0
    can_delete = False
    fields = ["channel", "recipient", "status", "attempts", "status_reason", "sent_at", "print_batch"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Notice)
class NoticeAdmin(ScopedReadOnlyAdmin):
    list_display = ["reference", "kind", "language", "status", "case", "issued_on", "issued_by", "pdf_link", "replaces"]
    list_filter = ["kind", "status", "language", "issued_on"]
    list_select_related = ["case", "issued_by", "replaces"]
    search_fields = ["reference__exact", "loan__reference__exact"]
    search_help_text = _("Exact notice or loan reference.")
    exclude = ["pdf"]
    readonly_fields = ["pdf_link"]
    inlines = [NoticeDeliveryInline]
    actions = ["print_letters"]

    @admin.display(description=_("PDF"))
    def pdf_link(self, notice):
        if notice.status != Notice.Status.ISSUED:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("notices:pdf", args=[notice.pk]), _("Open"))

    @admin.action(description=_("Print the selected notices' letters (one PDF)"), permissions=["print"])
    def print_letters(self, request, queryset):
        try:
            batch = print_batch_create(notice_ids=list(queryset.values_list("pk", flat=True)), actor=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.WARNING)
            return None
        return FileResponse(batch.pdf.open("rb"), as_attachment=True, filename=f"print-batch-{batch.pk}.pdf")

    def has_print_permission(self, request):
        return request.user.has_perm("notices.add_printbatch")


@admin.register(NoticeDelivery)
class NoticeDeliveryAdmin(ScopedReadOnlyAdmin):
    case_path = "notice__case"
    list_display = ["notice", "channel", "status", "recipient", "attempts", "status_reason", "sent_at", "print_batch"]
    list_filter = ["channel", "status"]
    list_select_related = ["notice", "print_batch"]
    search_fields = ["notice__reference__exact"]


@admin.register(PrintBatch)
class PrintBatchAdmin(ReadOnlyAdmin):
    """A batch holds letters of many teams' cases, so only those who see every case see batches; a
    supervisor gets the batch of the letters they selected straight from the notice list's action."""

    list_display = ["id", "business_date", "letter_count", "sheet_count", "created_by", "created_at", "pdf_link"]
    list_select_related = ["created_by"]
    exclude = ["pdf"]
    readonly_fields = ["pdf_link"]

    @admin.display(description=_("PDF"))
    def pdf_link(self, batch):
        url = reverse("admin:notices_printbatch_pdf", args=[batch.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download"))

    def get_urls(self):
        pdf = self.admin_site.admin_view(self.pdf_view)
        return [path("<int:pk>/pdf/", pdf, name="notices_printbatch_pdf"), *super().get_urls()]

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and sees_every_case(request.user)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def pdf_view(self, request, pk):
        if not self.has_view_permission(request):
            raise Http404
        batch = get_object_or_404(PrintBatch, pk=pk)
        return FileResponse(batch.pdf.open("rb"), as_attachment=True, filename=f"print-batch-{batch.pk}.pdf")
