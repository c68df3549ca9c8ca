"""The staff side of the desk messages: an agent, planner or admin answers a
customer's message from the request page; the answer reaches the customer's
portal inbox and closes the open desk tasks of the request."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from klantreis.accounts.access import Role, request_user, role_required
from klantreis.core.errors import ApplicationError
from klantreis.intake.selectors import request_get_for
from klantreis.journeys.desk import desk_message_answer
from klantreis.workspace.forms import DeskAnswerForm

DESK_ROLES = frozenset({Role.AGENT, Role.PLANNER, Role.ADMIN})


@role_required(*DESK_ROLES)
@require_http_methods(["GET", "POST"])
def desk_answer(request: HttpRequest, reference: str) -> HttpResponse:
    user = request_user(request)
    repair = request_get_for(user=user, reference=reference)
    posted = request.method == "POST"
    form = DeskAnswerForm(request.POST if posted else None)
    if posted and form.is_valid():
        try:
            desk_message_answer(
                customer=repair.customer,
                actor=user,
                case_id=repair.case_id,
                reference=repair.reference,
                text=form.cleaned_data["text"],
                key=str(form.cleaned_data["key"]),
            )
        except ApplicationError as error:
            form.add_error("text" if error.field == "text" else None, str(error.message))
        else:
            messages.success(request, _("Your answer has been sent to the customer."))
            return redirect("workspace:request_detail", reference=repair.reference)
    return render(
        request, "workspace/desk_answer.html", {"repair": repair, "form": form}, status=422 if posted else 200
    )
