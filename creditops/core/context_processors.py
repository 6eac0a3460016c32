from dunning.selectors import portal_abilities


def portal(request):
    """What the signed-in user may open, for the header's navigation (one roles query per page)."""
    user = getattr(request, "user", None)
    return {"portal": portal_abilities(user) if user is not None and user.is_authenticated else {}}
