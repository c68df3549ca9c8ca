"""Demo-only pages: the outbox (how a demo tenant gets their sign-in link)
and the clock control. Mounted only when settings.DEMO is on."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from klantreis.accounts.access import STAFF_ROLES, role_required
from klantreis.core import clock
from klantreis.core.errors import ApplicationError
from klantreis.demo.forms import CLOCK_STEPS, DemoClockForm, OutboxFilterForm
from klantreis.demo.selectors import OUTBOX_PAGE, demo_clock_offset, outbox_mail_list
from klantreis.demo.services import demo_clock_advance, demo_clock_reset
from klantreis.messaging.selectors import message_list

MESSAGES_PAGE = 25


def demo_only[**P, R](view: Callable[P, R]) -> Callable[P, R]:
    """404 outside demo mode, even if the URLs were mounted by mistake."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not settings.DEMO:
            raise Http404
        return view(*args, **kwargs)

    return wrapper


@demo_only
@require_GET
def outbox(request: HttpRequest) -> HttpResponse:
    # Open to anyone: in the demo this page stands in for the tenant's inbox.
    form = OutboxFilterForm(request.GET or None)
    to = form.cleaned_data["to"].strip() if form.is_valid() else ""
    mails = outbox_mail_list(to=to)[:OUTBOX_PAGE]
    # Every message of every channel the journeys sent (the e-mails among
    # them also appear above, as the mail server got them).
    sent = Paginator(message_list(to=to), MESSAGES_PAGE).get_page(request.GET.get("page"))
    context = {"form": form, "mails": mails, "filtered": bool(to), "to": to, "sent": sent}
    return render(request, "demo/outbox.html", context)


@demo_only
@role_required(*STAFF_ROLES)
@require_http_methods(["GET", "POST"])
def demo_clock(request: HttpRequest) -> HttpResponse:
    form = DemoClockForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            action = form.cleaned_data["action"]
            try:
                if action == "reset":
                    demo_clock_reset()
                    messages.success(request, _("The demo clock runs on real time again."))
                else:
                    demo_clock_advance(by=CLOCK_STEPS[action])
                    messages.success(request, _("The demo clock moved forward."))
            except ApplicationError as error:
                form.add_error(None, str(error.message))
            else:
                return redirect("demo:clock")
        status = 400
    offset = demo_clock_offset().offset
    context: dict[str, Any] = {
        "form": form,
        "now": clock.now(),
        "offset": offset,
        "offset_days": offset.days,
        "offset_hours": offset.seconds // 3600,
        "demo_clock_active": settings.KLANTREIS_CLOCK == "demo",
    }
    return render(request, "demo/clock.html", context, status=status)
