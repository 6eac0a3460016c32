"""Notice pages: the public verification page (no login, no personal data) and, for staff, a notice's
PDF and a preview of any kind on a case, each within the viewer's case scope (404 outside it)."""

import hashlib
import hmac
import re

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from accounts.services import audit_record
from creditops.core.errors import DomainError
from creditops.core.parsing import parse_id
from creditops.core.ratelimit import client_address, rate_limit
from dunning.models import NoticeKind
from dunning.selectors import cases_visible_to

from .models import Notice
from .selectors import notices_visible_to
from .services.issue import CODE_ALPHABET, CODE_LENGTH
from .services.preview import notice_preview

SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class VerifyForm(forms.Form):
    sha256 = forms.CharField(label=_("SHA-256 of your copy"), required=False, max_length=64)
    document = forms.FileField(label=_("or the PDF you received"), required=False)

    def clean_sha256(self):
        value = self.cleaned_data["sha256"].strip().lower()
        if value and not SHA256_PATTERN.match(value):
            raise forms.ValidationError(_("A SHA-256 is 64 hexadecimal characters."))
        return value

    def clean_document(self):
        document = self.cleaned_data["document"]
        if document is not None and document.size > settings.NOTICES["VERIFY_MAX_UPLOAD_BYTES"]:
            raise forms.ValidationError(_("The file is larger than any notice we issue."))
        return document

    def given_hash(self) -> str:
        document = self.cleaned_data.get("document")
        if document is not None:
            digest = hashlib.sha256()
            for chunk in document.chunks():
                digest.update(chunk)
            return digest.hexdigest()
        return self.cleaned_data.get("sha256", "")


@require_http_methods(["GET", "POST"])
def verify(request, reference: str):
    """Anyone holding a notice may check it: the reference and the printed code must both match, and the
    answer is only the notice's kind and date and whether a copy's hash matches the one we stored."""
    refusal = _refused_before_reading(request)
    if refusal is not None:
        return refusal
    code = (request.GET.get("code") or request.POST.get("code") or "").strip().upper()
    notice = (
        Notice.objects.filter(reference=reference, status=Notice.Status.ISSUED)
        .only("reference", "kind", "issued_on", "sha256", "verification_code", "replaces_id")
        .first()
    )
    if notice is None or not _well_formed(code) or not hmac.compare_digest(code, notice.verification_code):
        raise Http404("No notice matches this reference and code.")
    form = VerifyForm(request.POST or request.GET or None, request.FILES or None)
    match = None
    if form.is_bound and form.is_valid() and form.given_hash():
        match = hmac.compare_digest(form.given_hash(), notice.sha256)
    context = {
        "notice": notice,
        "kind_label": NoticeKind(notice.kind).label,
        "corrected_by": Notice.objects.filter(replaces=notice, status=Notice.Status.ISSUED)
        .values_list("reference", flat=True)
        .first(),
        "code": code,
        "form": form,
        "match": match,
    }
    return render(request, "notices/verify.html", context)


def _refused_before_reading(request) -> HttpResponse | None:
    """The page is public, so it answers a limited number of requests per address (a guessed code costs a
    request like any other), and refuses a body larger than any notice before Django reads it."""
    verdict = rate_limit(
        scope="notice-verify", key=client_address(request),
        limit=settings.NOTICES["VERIFY_REQUESTS_PER_MINUTE"], window_seconds=60,
    )  # fmt: skip
    if not verdict.allowed:
        message = _("Too many checks from your address. Please try again in %(seconds)d seconds.")
        context = {"message": message % {"seconds": verdict.retry_after}}
        response = render(request, "notices/verify_refused.html", context, status=429)
        response["Retry-After"] = str(verdict.retry_after)
        return response
    limit = settings.NOTICES["VERIFY_MAX_UPLOAD_BYTES"]
    if (parse_id(request.META.get("CONTENT_LENGTH")) or 0) > limit:
        message = _("The file is larger than %(megabytes)d MB; a notice is far smaller.")
        context = {"message": message % {"megabytes": limit // 2**20}}
        return render(request, "notices/verify_refused.html", context, status=413)
    return None


def _well_formed(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(character in CODE_ALPHABET for character in code)


@login_required
def notice_download(request, pk: int):
    notice = get_object_or_404(notices_visible_to(request.user), pk=pk)
    return notice_pdf_response(notice, actor=request.user, via="portal")


def notice_pdf_response(notice, *, actor, via: str) -> HttpResponse:
    """The issued notice's stored PDF; every download is recorded."""
    detail = {"reference": notice.reference, "via": via}
    audit_record(actor=actor, event="notice.downloaded", subject=notice, detail=detail)
    with notice.pdf.open("rb") as pdf:
        content = pdf.read()
    return _pdf_response(content, f"{notice.reference}.pdf")


@login_required
def notice_preview_pdf(request, case_id: int, kind: str):
    case = get_object_or_404(cases_visible_to(request.user).select_related("loan__product", "borrower"), pk=case_id)
    if kind not in NoticeKind.values:
        raise Http404("Unknown notice kind.")
    try:
        rendered = notice_preview(case=case, kind=kind)
    except DomainError as error:
        return HttpResponse(error.message, status=409, content_type="text/plain; charset=utf-8")
    audit_record(actor=request.user, event="notice.previewed", subject=case, detail={"kind": kind})
    return _pdf_response(rendered.content, f"preview-{case.pk}-{kind}.pdf")


def _pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
