"""Who may open what: role checks for views. Object scope lives in selectors."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from klantreis.accounts.models import User

Role = User.Role

STAFF_ROLES = frozenset(
    {Role.AGENT, Role.PLANNER, Role.TECHNICIAN, Role.SUBCONTRACTOR, Role.DESIGNER, Role.MANAGER, Role.ADMIN}
)
# Roles that see every request of the organisation (the manager only reads them).
ALL_REQUESTS_ROLES = frozenset({Role.AGENT, Role.PLANNER, Role.DESIGNER, Role.MANAGER, Role.ADMIN})
# Roles that see the insights dashboards (issue 6).
INSIGHTS_ROLES = frozenset({Role.DESIGNER, Role.MANAGER, Role.ADMIN})
# Roles that take a report on behalf of a customer.
INTAKE_ROLES = frozenset({Role.AGENT, Role.ADMIN})

View = Callable[..., HttpResponseBase]


def role_required(*roles: str) -> Callable[[View], View]:
    """Anonymous → the sign-in page; signed in with another role → 403."""

    allowed = frozenset(roles)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if getattr(request.user, "role", None) not in allowed or not request.user.is_active:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def request_user(request: HttpRequest) -> User:
    """The signed-in user of a request that `role_required` already let through."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user
