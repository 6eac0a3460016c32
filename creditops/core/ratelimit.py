"""Requests per client address in a fixed window, counted in the cache (Redis in production, so every web
worker shares the count) — for the public pages that need no sign-in."""

import time
from dataclasses import dataclass

from axes.helpers import get_client_ip_address
from django.core.cache import cache


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends (0 when allowed)


def client_address(request) -> str:
    """The client's address as the login lockout sees it (behind PROXY_COUNT proxies, the forwarded one)."""
    return get_client_ip_address(request) or "unknown"


def rate_limit(*, scope: str, key: str, limit: int, window_seconds: int) -> Verdict:
    """Count one request of `key` in `scope`; refused once more than `limit` came in this window."""
    window = int(time.time()) // window_seconds
    cache_key = f"ratelimit:{scope}:{key}:{window}"
    if cache.add(cache_key, 1, timeout=window_seconds + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr: this request opens a new count
            cache.set(cache_key, 1, timeout=window_seconds + 1)
            count = 1
    if count <= limit:
        return Verdict(True, 0)
    return Verdict(False, window_seconds - int(time.time()) % window_seconds)
