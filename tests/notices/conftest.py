"""Fixtures for notices: the collections fixtures (team, products, overdue_case), PDFs read back as text,
and a media folder of the test's own so stored notices never mix between tests."""

import io
import shutil
import subprocess

import pytest
from pypdf import PdfReader

from tests.dunning.conftest import (  # noqa: F401 - fixtures shared with the collections tests
    cn_product,
    collector,
    other_collector,
    overdue_case,
    supervisor,
    team,
    us_product,
)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def pdf_text(content: bytes) -> str:
    """The text of a PDF as poppler's pdftotext reads it (layout kept, so table rows stay on one line)."""
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext is missing: install Debian's poppler-utils (make system-packages does)"
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [pdftotext, "-layout", "-enc", "UTF-8", "-", "-"], input=content, capture_output=True, check=True
    )
    return result.stdout.decode("utf-8")


def pdf_pages(content: bytes) -> list[str]:
    """The text of each page as pypdf reads it (keeps a rotated watermark together as one word)."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def page_count(content: bytes) -> int:
    return len(PdfReader(io.BytesIO(content)).pages)


def squeezed(text: str) -> str:
    """The text without any whitespace: pdftotext splits wrapped lines and spaced-out headings."""
    return "".join(text.split())
