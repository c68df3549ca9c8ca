from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Send each person to their own starting page."""
    if not request.user.is_authenticated:
        return redirect("portal:sign_in")
    if getattr(request.user, "role", None) == "customer":
        return redirect("portal:home")
    if getattr(request.user, "role", None) in ("technician", "subcontractor"):
        return redirect("field:day")
    return redirect("workspace:home")


@require_GET
def health(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
