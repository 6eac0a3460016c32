from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey


class PerKeyRateThrottle(SimpleRateThrottle):
    """Requests per key (or per staff user on a session) within the API_RATE_LIMIT window."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            return self.cache_format % {"scope": self.scope, "ident": f"key-{request.auth.pk}"}
        if request.user and request.user.is_authenticated:
            return self.cache_format % {"scope": self.scope, "ident": f"user-{request.user.pk}"}
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
