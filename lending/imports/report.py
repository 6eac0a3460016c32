"""What an import found and did: read by the command (as text) and by the admin's preview (as data)."""

from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

PREVIEW_ROWS = 20


@dataclass(frozen=True)
class RowError:
    row: int
    column: str  # empty when the reason concerns the whole row
    reason: str

    def __str__(self):
        if self.column:
            return _("row %(row)d, column %(column)s: %(reason)s") % {
                "row": self.row, "column": self.column, "reason": self.reason,
            }  # fmt: skip
        return _("row %(row)d: %(reason)s") % {"row": self.row, "reason": self.reason}


@dataclass(frozen=True)
class Duplicate:
    """A payment skipped because it is already posted (`payment_id`) or repeats an earlier row of the file."""

    row: int
    external_ref: str
    payment_id: int | None = None
    first_row: int | None = None

    def __str__(self):
        if self.payment_id is not None:
            return _("row %(row)d: %(reference)s is already posted (payment %(payment)d)") % {
                "row": self.row, "reference": self.external_ref, "payment": self.payment_id,
            }  # fmt: skip
        return _("row %(row)d: %(reference)s repeats row %(first)d") % {
            "row": self.row, "reference": self.external_ref, "first": self.first_row,
        }  # fmt: skip


@dataclass
class ImportReport:
    """`created` counts what was written, or for a dry run what would be. The file is applied only when
    `ok`; a report lists every bad row, not just the first."""

    resource: str  # "payments", "borrowers" or "loans"
    file_name: str
    dry_run: bool
    rows_read: int = 0
    file_errors: list[str] = field(default_factory=list)
    row_errors: list[RowError] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    created: int = 0
    preview: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.row_errors

    @property
    def applied(self) -> bool:
        return self.ok and not self.dry_run

    def add_error(self, row: int, column: str, reason: str) -> None:
        self.row_errors.append(RowError(row=row, column=column, reason=str(reason)))

    def add_preview(self, values: dict) -> None:
        if len(self.preview) < PREVIEW_ROWS:
            self.preview.append(values)

    @property
    def preview_columns(self) -> list[str]:
        return list(self.preview[0]) if self.preview else []

    @property
    def errors_by_row(self) -> list[RowError]:
        """The row errors in row order (a row's own errors in the order they were found)."""
        return sorted(self.row_errors, key=lambda error: error.row)

    @property
    def rows_with_errors(self) -> int:
        return len({error.row for error in self.row_errors})

    @property
    def summary(self) -> str:
        """One sentence: what was (or would be) written, or that nothing was."""
        if not self.ok:
            return _("The file was rejected; nothing was written.")
        count = self.created
        if self.dry_run:
            messages = {
                "payments": ngettext(
                    "Dry run: %(count)d payment would be posted; nothing was written.",
                    "Dry run: %(count)d payments would be posted; nothing was written.",
                    count,
                ),
                "borrowers": ngettext(
                    "Dry run: %(count)d borrower would be created; nothing was written.",
                    "Dry run: %(count)d borrowers would be created; nothing was written.",
                    count,
                ),
                "loans": ngettext(
                    "Dry run: %(count)d loan would be booked; nothing was written.",
                    "Dry run: %(count)d loans would be booked; nothing was written.",
                    count,
                ),
            }
        else:
            messages = {
                "payments": ngettext("%(count)d payment posted.", "%(count)d payments posted.", count),
                "borrowers": ngettext("%(count)d borrower created.", "%(count)d borrowers created.", count),
                "loans": ngettext(
                    "%(count)d loan booked with its schedule.", "%(count)d loans booked with their schedules.", count
                ),
            }
        return messages[self.resource] % {"count": count}

    def details_text(self) -> str:
        """Everything but the summary: rows read, every error, every duplicate skipped."""
        lines = [
            ngettext("%(file)s: %(rows)d row read.", "%(file)s: %(rows)d rows read.", self.rows_read)
            % {"file": self.file_name, "rows": self.rows_read}
        ]
        lines += self.file_errors
        if self.row_errors:
            count = self.rows_with_errors
            lines.append(ngettext("%(count)d row has errors:", "%(count)d rows have errors:", count) % {"count": count})
            lines += [f"  {error}" for error in self.errors_by_row]
        if self.duplicates:
            count = len(self.duplicates)
            message = ngettext("%(count)d duplicate skipped:", "%(count)d duplicates skipped:", count)
            lines.append(message % {"count": count})
            lines += [f"  {duplicate}" for duplicate in self.duplicates]
        return "\n".join(lines)

    def as_text(self) -> str:
        return f"{self.details_text()}\n{self.summary}"
