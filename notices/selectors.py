"""Reading notices: who may see which (the case scope of the collections app, nothing else)."""

from django.db.models import QuerySet

from dunning.selectors import cases_visible_to

from .models import Notice


def notices_visible_to(user) -> QuerySet:
    """Issued notices on the cases `user` may see."""
    return Notice.objects.filter(status=Notice.Status.ISSUED, case__in=cases_visible_to(user))
