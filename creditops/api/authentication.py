from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .services import api_key_matching, api_key_used

KEYWORD = "Api-Key"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`. The request then acts as the key's user; `request.auth` is the key."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        keyword, _space, key = header.partition(" ")
        if keyword != KEYWORD:
            return None
        api_key = api_key_matching(key.strip())
        if api_key is None or not api_key.user.is_active:
            raise exceptions.AuthenticationFailed(_("Unknown, revoked or malformed API key."))
        api_key_used(api_key)
        return api_key.user, api_key

    def authenticate_header(self, request):
        return KEYWORD
