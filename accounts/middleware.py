from django.conf import settings
from django.utils import translation


class UserLanguageMiddleware:
    """A signed-in staff member sees their preferred language unless they picked one with the language
    switch (its cookie wins). Goes after LocaleMiddleware and AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        chose_explicitly = settings.LANGUAGE_COOKIE_NAME in request.COOKIES
        if user is not None and user.is_authenticated and not chose_explicitly and user.preferred_language:
            translation.activate(user.preferred_language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
