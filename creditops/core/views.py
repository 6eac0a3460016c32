from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.roles import MANAGER
from dunning.selectors import user_roles


@never_cache
@require_GET
def healthz(request):
    """Liveness and readiness for load balancers: 200 when the database answers, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = "ok"
    except DatabaseError:
        database = "unavailable"
    status = 200 if database == "ok" else 503
    payload = {
        "database": database,
        "status": "ok" if status == 200 else "degraded",
        "time": timezone.now().isoformat(),
    }
    return JsonResponse(payload, status=status)


@login_required
def home(request):
    """Where each role starts: managers on the dashboard, staff who work or read cases at the worklist,
    anyone else at the data admin."""
    roles = user_roles(request.user)
    if MANAGER in roles:
        return redirect("dashboards:dashboard")
    return redirect("cases:worklist" if roles else "admin:index")
