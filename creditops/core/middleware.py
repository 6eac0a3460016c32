from urllib.parse import urlsplit

from django.conf import settings
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect


class ContentSecurityPolicyMiddleware:
    """Sends CONTENT_SECURITY_POLICY on every response that has not set its own: the browser then runs no
    script and loads nothing that did not come from the portal itself."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy:
            response.headers.setdefault("Content-Security-Policy", policy)
        return response


class HtmxSignInRedirectMiddleware:
    """A part of a page that htmx asks for after the session expired would be answered with the sign-in
    page, and htmx would put that whole page inside the part. For htmx requests the redirect to sign-in
    becomes a redirect of the whole window (HX-Redirect), back to where the user was after signing in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "htmx", False) and response.status_code == 302:
            sign_in = resolve_url(settings.LOGIN_URL)
            if urlsplit(response["Location"]).path == sign_in:
                return HttpResponseClientRedirect(response["Location"])
        return response
