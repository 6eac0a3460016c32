"""The zh_Hans catalogue is complete, compiled and used by the admin."""

import re
from pathlib import Path

import pytest
from django.utils import translation

from lending.models import Loan

CATALOGUE = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def catalogue_entries():
    """(msgid, msgstr, flags) for every entry after the header, read straight from the .po file."""
    text = CATALOGUE.read_text(encoding="utf-8")
    entries = []
    for block in text.split("\n\n")[1:]:
        flags = " ".join(line for line in block.splitlines() if line.startswith("#,"))
        msgid = "".join(re.findall(r'^(?:msgid|msgid_plural)? ?"(.*)"$', _section(block, "msgid"), re.M))
        msgstrs = re.findall(r'^msgstr(?:\[\d\])? "(.*)"((?:\n".*")*)', block, re.M)
        values = ["".join([first, *re.findall(r'"(.*)"', rest)]) for first, rest in msgstrs]
        if msgid or values:
            entries.append((msgid, values, flags))
    return entries


def _section(block, keyword):
    lines, inside = [], False
    for line in block.splitlines():
        if line.startswith(keyword):
            inside = True
        elif line.startswith("msgstr"):
            inside = False
        if inside:
            lines.append(line)
    return "\n".join(lines)


def test_every_entry_is_translated_and_not_fuzzy():
    entries = catalogue_entries()
    assert len(entries) > 150
    untranslated = [msgid for msgid, values, _flags in entries if not values or not all(values)]
    fuzzy = [msgid for msgid, _values, flags in entries if "fuzzy" in flags]
    assert untranslated == []
    assert fuzzy == []


def test_compiled_catalogue_is_used():
    with translation.override("zh-hans"):
        assert str(Loan._meta.verbose_name) == "贷款"
        assert str(Loan.Bucket.DPD_180_PLUS.label) != "180+ days"


@pytest.mark.django_db
def test_admin_index_speaks_chinese(admin_client):
    response = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    page = response.content.decode()
    assert "贷款" in page
    assert "借款人" in page


def test_no_chinese_text_says_dpd():
    """逾期天数, never the English abbreviation, on a Chinese screen, notice or export."""
    saying_dpd = [msgid for msgid, values, _flags in catalogue_entries() if any("DPD" in value for value in values)]
    assert saying_dpd == []
