"""The admin's Import button and Export actions for borrowers, loans and payments.

Import is two steps. Loading a file runs a dry run and shows the preview: every bad row (row, column,
reason), or what will be created. The file waits in storage under a random name that only this session
knows; "Confirm import" runs the import again on it — validating afresh inside the transaction that
writes, so anything that changed since the preview is caught — and applies the whole file or nothing.
"""

import datetime
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.services import audit_record

from . import borrowers, loans, payments
from .exports import csv_response, rows_to_export, xlsx_response
from .files import MAX_BYTES, Columns, FileRejectedError, file_format, read_rows
from .report import ImportReport

UPLOAD_DIR = "imports"
# A preview nobody confirmed leaves its file behind; the next upload removes those older than this.
STALE_UPLOAD_AGE = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Importer:
    resource: str
    columns: Columns
    run: Callable[..., ImportReport]  # (request, rows, *, dry_run, file_name, source)
    form: type[forms.Form]


def _run_payments(request, rows, *, dry_run, file_name, source):
    return payments.payments_import(rows=rows, source=source, actor=request.user, dry_run=dry_run, file_name=file_name)


def _run_borrowers(request, rows, *, dry_run, file_name, source):
    return borrowers.borrowers_import(rows=rows, actor=request.user, dry_run=dry_run, file_name=file_name)


def _run_loans(request, rows, *, dry_run, file_name, source):
    # Only borrowers the user may see can be named, as in the add form.
    from dunning.selectors import borrowers_visible_to, sees_every_case

    scope = None if sees_every_case(request.user) else borrowers_visible_to(request.user)
    return loans.loans_import(rows=rows, actor=request.user, dry_run=dry_run, file_name=file_name, borrowers=scope)


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("file"), help_text=gettext_lazy("CSV (UTF-8) or XLSX, header in row 1."))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            file_format(upload.name)
        except FileRejectedError as rejected:
            raise forms.ValidationError(rejected.messages) from None
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than %(max)d MB.") % {"max": MAX_BYTES // (1024 * 1024)})
        return upload


class PaymentImportForm(ImportForm):
    source = forms.CharField(
        label=gettext_lazy("source"),
        max_length=payments.SOURCE_MAX_LENGTH,
        initial=payments.DEFAULT_SOURCE,
        help_text=gettext_lazy("Where the file comes from; a reference already posted from this source is skipped."),
    )


PAYMENTS = Importer("payments", payments.COLUMNS, _run_payments, PaymentImportForm)
BORROWERS = Importer("borrowers", borrowers.COLUMNS, _run_borrowers, ImportForm)
LOANS = Importer("loans", loans.COLUMNS, _run_loans, ImportForm)


class ImportExportMixin:
    """For a ModelAdmin: `importer` says what its Import button loads, `export_columns` what its Export
    actions write. The import needs the model's add permission, the exports its view permission (and
    cover only the rows the user's changelist shows)."""

    importer: Importer
    export_columns: list
    export_related: tuple = ()  # select_related() for the export's columns
    actions = ["export_csv", "export_xlsx"]
    change_list_template = "admin/lending/import_change_list.html"

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_import"
        return [path("import/", self.admin_site.admin_view(self.import_view), name=name), *super().get_urls()]

    # -- import ----------------------------------------------------------------------------------------

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST" and "confirm" in request.POST:
            return self._import_confirm(request)
        form = self.importer.form(request.POST or None, request.FILES or None)
        if not form.is_valid():
            return self._import_page(request, form=form, status=400 if request.method == "POST" else 200)
        _remove_stale_uploads()
        upload = form.cleaned_data["file"]
        stored = default_storage.save(f"{UPLOAD_DIR}/{secrets.token_urlsafe(24)}.{file_format(upload.name)}", upload)
        pending = {"stored": stored, "file_name": upload.name, "source": form.cleaned_data.get("source", "")}
        report = self._run_import(request, pending, dry_run=True)
        if report.ok:
            replaced = request.session.get(self._session_key)
            if replaced:
                default_storage.delete(replaced["stored"])  # the preview this one replaces can no longer be confirmed
            request.session[self._session_key] = pending
        else:
            default_storage.delete(stored)
        return self._import_page(request, form=form, report=report, token=stored if report.ok else "")

    def _import_confirm(self, request):
        pending = request.session.get(self._session_key)
        # The token ties the confirmation to the preview shown: a preview in another tab replaced it.
        if not pending or request.POST.get("token") != pending["stored"]:
            self.message_user(request, _("This preview has expired; load the file again."), messages.WARNING)
            return redirect(self._import_url)
        del request.session[self._session_key]
        if not default_storage.exists(pending["stored"]):
            self.message_user(request, _("This preview has expired; load the file again."), messages.WARNING)
            return redirect(self._import_url)
        try:
            report = self._run_import(request, pending, dry_run=False)
        finally:
            default_storage.delete(pending["stored"])
        if not report.applied:
            # Something changed since the preview (a payment posted meanwhile, a borrower created): the
            # file was checked again and nothing was written.
            return self._import_page(request, form=self.importer.form(), report=report, status=400)
        message = report.summary
        if report.duplicates:
            message += " " + _("%(count)d already posted, skipped.") % {"count": len(report.duplicates)}
        self.message_user(request, message, messages.SUCCESS)
        return redirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))

    def _run_import(self, request, pending, *, dry_run) -> ImportReport:
        name = pending["file_name"]
        try:
            with default_storage.open(pending["stored"], "rb") as stored:
                rows = read_rows(stored, name=name, columns=self.importer.columns)
        except FileRejectedError as rejected:
            return ImportReport(
                resource=self.importer.resource, file_name=name, dry_run=dry_run, file_errors=rejected.messages
            )
        return self.importer.run(request, rows, dry_run=dry_run, file_name=name, source=pending["source"])

    def _import_page(self, request, *, form, report=None, token="", status=200):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Import %(things)s") % {"things": self.opts.verbose_name_plural},
            "form": form,
            "report": report,
            "token": token,
            "columns": self.importer.columns,
        }
        return TemplateResponse(request, "admin/lending/import.html", context, status=status)

    @property
    def _session_key(self):
        return f"lending.import.{self.opts.model_name}"

    @property
    def _import_url(self):
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import")

    # -- export ----------------------------------------------------------------------------------------

    @admin.action(description=gettext_lazy("Export selected %(verbose_name_plural)s as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        return self._export(request, queryset, "csv")

    @admin.action(description=gettext_lazy("Export selected %(verbose_name_plural)s as XLSX"), permissions=["view"])
    def export_xlsx(self, request, queryset):
        return self._export(request, queryset, "xlsx")

    def _export(self, request, queryset, file_format_name):
        """The selected rows (or every row of the filtered changelist, "select all"), recorded in the audit
        trail with the filters and the selection before anything is sent."""
        queryset = queryset.select_related(*self.export_related)
        rows, truncated = rows_to_export(queryset)
        select_all = request.POST.get("select_across") == "1"
        detail = {
            "model": self.opts.label_lower, "format": file_format_name, "rows": rows, "truncated": truncated,
            "filters": dict(request.GET.items()),
            "selected": "all" if select_all else request.POST.getlist("_selected_action"),
        }  # fmt: skip
        audit_record(actor=request.user, event="admin.exported", detail=detail)
        respond = csv_response if file_format_name == "csv" else xlsx_response
        name = str(self.opts.model_name)
        return respond(queryset, self.export_columns, name=name, truncated=truncated)


def _remove_stale_uploads():
    try:
        _folders, files = default_storage.listdir(UPLOAD_DIR)
    except FileNotFoundError:
        return
    cutoff = timezone.now() - STALE_UPLOAD_AGE
    for name in files:
        stored = f"{UPLOAD_DIR}/{name}"
        if default_storage.get_modified_time(stored) < cutoff:
            default_storage.delete(stored)
