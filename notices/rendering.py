"""Notice data → HTML (Django templates under templates/notices/) → PDF (WeasyPrint).

Each kind has a body template per language (templates/notices/<language>/<kind>.html) on one shared
layout and print stylesheet; wording every kind shares in a language (the waived line, a settlement's
terms, why penalty stopped) is in that language's partials (templates/notices/<language>/_*.html). The
template version stored on a notice is a digest of the files that made it, so a notice names exactly the
wording it was printed with."""

import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import segno
import weasyprint
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from creditops.core.errors import DomainError

from .checks import CJK_FAMILY, cjk_font_installed

LAYOUT_FILES = ["base.html", "print.css"]


@dataclass(frozen=True)
class RenderedPdf:
    content: bytes
    page_count: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def _templates_dir() -> Path:
    return Path(settings.BASE_DIR) / "templates" / "notices"


def body_template(kind: str, language: str) -> str:
    return f"notices/{language}/{kind}.html"


@functools.cache
def template_version(kind: str, language: str) -> str:
    """A 12-hex digest of what decides a notice's wording: the layout, the stylesheet, the kind's body
    template in that language, the language's partials and its compiled catalogue (the layout's labels
    and paragraphs are translated). Any edit to the catalogue changes the version: over-cautious, never
    silent."""
    digest = hashlib.sha256()
    partials = sorted(path.name for path in (_templates_dir() / language).glob("_*.html"))
    for relative in [*LAYOUT_FILES, f"{language}/{kind}.html", *(f"{language}/{name}" for name in partials)]:
        digest.update((_templates_dir() / relative).read_bytes())
    for locale_path in settings.LOCALE_PATHS:
        catalogue = Path(locale_path) / translation.to_locale(language) / "LC_MESSAGES" / "django.mo"
        if catalogue.exists():
            digest.update(catalogue.read_bytes())
    return digest.hexdigest()[:12]


def qr_code_data_uri(payload: str) -> str:
    """The payment QR code as an inline SVG image (drawn here, so nothing is fetched while rendering).
    The mask is fixed: any of the eight is valid, and scoring all eight took 3.5 ms of every notice."""
    return segno.make_qr(payload, error="m", mask=0, boost_error=False).svg_data_uri(scale=4, border=2)


def notice_html(data: dict, *, preview: bool = False) -> str:
    """The notice's HTML from its stored data, in the notice's own language."""
    language = data["language"]
    with translation.override(language):
        return render_to_string(
            body_template(data["kind"], language),
            {
                "n": data,
                "language": language,
                "preview": preview,
                "qr_code": qr_code_data_uri(data["payment"]["qr_payload"]),
            },
        )


def html_to_pdf(html: str) -> RenderedPdf:
    if not cjk_font_installed():
        raise DomainError(
            _("The Chinese font %(family)s is not installed; notices are not rendered without it.")
            % {"family": CJK_FAMILY},
            code="notice.font_missing",
        )
    document = weasyprint.HTML(string=html, base_url=str(_templates_dir())).render()
    output = io.BytesIO()
    document.write_pdf(output)
    return RenderedPdf(content=output.getvalue(), page_count=len(document.pages))


def notice_pdf(data: dict, *, preview: bool = False) -> RenderedPdf:
    return html_to_pdf(notice_html(data, preview=preview))
