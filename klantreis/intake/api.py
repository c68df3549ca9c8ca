"""Repair requests as JSON: report, list, read, add a photo (docs/api.md).

Endpoints check the role, find what they need, call one service or
selector and shape the answer; the scope of who sees what lives in
`request_list_for` / `request_get_for`, exactly as for the HTML screens.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import File, Query, Router, Status
from ninja.files import UploadedFile

from klantreis.accounts.access import INTAKE_ROLES, STAFF_ROLES
from klantreis.accounts.api import ApiTokenAuth, api_user
from klantreis.accounts.models import User
from klantreis.core.errors import ApplicationError
from klantreis.customers.models import Customer, Home
from klantreis.intake.models import RepairRequest, TriageTree
from klantreis.intake.schemas import ErrorOut, RequestFilters, RequestIn, RequestOut, RequestPageOut
from klantreis.intake.selectors import request_get_for, request_list_for
from klantreis.intake.services import MESSAGE_NOT_YOUR_HOME, request_create, request_photo_add

Role = User.Role

# Who may report (and add photos): a customer for themselves, the desk for anyone.
REPORT_ROLES = frozenset({Role.CUSTOMER}) | INTAKE_ROLES

MESSAGE_CUSTOMER_REQUIRED = _("Please say for which customer (their id) you report this.")
MESSAGE_UNKNOWN_CUSTOMER = _("There is no customer with this id.")
MESSAGE_ONLY_YOURSELF = _("You can only report repairs for yourself.")
MESSAGE_UNKNOWN_HOME = _("There is no home with this reference.")
MESSAGE_UNKNOWN_TREE = _("There is no list of questions called %(slug)r.")
MESSAGE_NOTES_STAFF_ONLY = _("Only staff can add notes to a request.")

ERRORS: dict[int | str, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
# Reading the body can fail before the endpoint runs (see config/api.py).
BODY_ERRORS: dict[int | str, Any] = ERRORS | {400: ErrorOut, 413: ErrorOut, 415: ErrorOut}

# The services name some fields after the HTML forms or VERA lists; the API
# reports them under the names of its own request body.
SERVICE_FIELDS = {
    "defectlocatie": "defect_location",
    "defectsoort": "triage_tree",
    "onderhoudspecialisme": "triage_tree",
    "tree": "triage_tree",
    "photos": "photo",
}

router = Router(auth=ApiTokenAuth(), tags=["requests"])


def _require_role(user: User, roles: frozenset[str]) -> None:
    if user.role not in roles:
        raise PermissionDenied


@contextmanager
def _api_field_names() -> Iterator[None]:
    try:
        yield
    except ApplicationError as error:
        if error.field and error.field.startswith("answer_"):
            error.field = "answers." + error.field.removeprefix("answer_")
        elif error.field:
            error.field = SERVICE_FIELDS.get(error.field, error.field)
        raise


def _with_photo_count(requests: QuerySet[RepairRequest]) -> QuerySet[RepairRequest]:
    # distinct: the scope of a subcontractor joins jobs, which would multiply the photos.
    return requests.annotate(photo_count=Count("photos", distinct=True))


def _request_out(request: RepairRequest, *, user: User) -> dict[str, Any]:
    """The API's view of a request. Customers never see the agent's notes:
    the key is left out (not null), so it cannot be mistaken for "no notes"."""
    home = request.home
    photo_count = getattr(request, "photo_count", None)
    data: dict[str, Any] = {
        "reference": request.reference,
        "status": request.status,
        "urgency": request.urgency,
        "urgency_reason": request.urgency_reason,
        "reported_at": timezone.localtime(request.reported_at),
        "channel": request.channel,
        "description": request.description,
        "defect_type": {"code": request.defect_type.code, "name": request.defect_type.label},
        "defect_location": {"code": request.defect_location.code, "name": request.defect_location.label},
        "specialism": {"code": request.specialism.code, "name": request.specialism.label},
        "estimated_minutes": request.estimated_minutes,
        "material": request.material,
        "triage_answers": request.triage_answers,
        "home": {
            "reference": home.reference,
            "address": home.address_line,
            "postcode": home.postcode,
            "city": home.city,
        },
        "customer": request.customer_id,
        "photos": photo_count if photo_count is not None else request.photos.count(),
    }
    if user.role in STAFF_ROLES:
        data["agent_notes"] = request.agent_notes
    return data


def _reporter(user: User, customer_id: int | None) -> Customer:
    if user.role == Role.CUSTOMER:
        own = Customer.objects.filter(user=user).first()
        if own is None or (customer_id is not None and customer_id != own.pk):
            raise ApplicationError(MESSAGE_ONLY_YOURSELF, field="customer")
        return own
    if customer_id is None:
        raise ApplicationError(MESSAGE_CUSTOMER_REQUIRED, field="customer")
    customer = Customer.objects.select_related("user").filter(pk=customer_id).first()
    if customer is None:
        raise ApplicationError(MESSAGE_UNKNOWN_CUSTOMER, field="customer")
    return customer


def _home(user: User, reference: str) -> Home:
    home = Home.objects.filter(reference=reference.strip()).first()
    if home is None:
        # A customer learns no more than "not yours", so references of other
        # people's homes cannot be probed.
        if user.role == Role.CUSTOMER:
            raise ApplicationError(MESSAGE_NOT_YOUR_HOME, field="home")
        raise ApplicationError(MESSAGE_UNKNOWN_HOME, field="home")
    return home


def _tree(slug: str) -> TriageTree:
    tree = TriageTree.objects.select_related("defect_type").filter(slug=slug.strip()).first()
    if tree is None:
        raise ApplicationError(MESSAGE_UNKNOWN_TREE % {"slug": slug}, field="triage_tree")
    return tree


@router.post(
    "/requests", response={201: RequestOut, **BODY_ERRORS}, exclude_unset=True, summary="Report a repair"
)
def request_create_endpoint(request: HttpRequest, payload: RequestIn) -> Status[dict[str, Any]]:
    user = api_user(request)
    _require_role(user, REPORT_ROLES)
    if user.role == Role.CUSTOMER and payload.agent_notes.strip():
        raise ApplicationError(MESSAGE_NOTES_STAFF_ONLY, field="agent_notes")
    customer = _reporter(user, payload.customer)
    with _api_field_names():
        created = request_create(
            actor=user,
            customer=customer,
            home=_home(user, payload.home),
            channel=RepairRequest.Channel.API,
            tree=_tree(payload.triage_tree),
            answers=payload.answers,
            defect_location_code=payload.defect_location.strip().upper(),
            description=payload.description,
            agent_notes=payload.agent_notes,
        )
    return Status(201, _request_out(created, user=user))


@router.get(
    "/requests", response={200: RequestPageOut, **ERRORS}, exclude_unset=True, summary="List requests"
)
def request_list_endpoint(request: HttpRequest, filters: Query[RequestFilters]) -> dict[str, Any]:
    user = api_user(request)
    requests = request_list_for(user=user)
    if filters.status is not None:
        requests = requests.filter(status=filters.status)
    if filters.urgency is not None:
        requests = requests.filter(urgency=filters.urgency)
    if filters.reported_after is not None:
        after = filters.reported_after
        requests = requests.filter(
            reported_at__gte=after if timezone.is_aware(after) else timezone.make_aware(after)
        )
    if filters.reported_before is not None:
        before = filters.reported_before
        requests = requests.filter(
            reported_at__lt=before if timezone.is_aware(before) else timezone.make_aware(before)
        )
    requests = requests.order_by("-reported_at", "-pk")
    page = _with_photo_count(requests)[filters.offset : filters.offset + filters.limit]
    return {
        "count": requests.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "items": [_request_out(item, user=user) for item in page],
    }


@router.get(
    "/requests/{reference}",
    response={200: RequestOut, **ERRORS},
    exclude_unset=True,
    summary="Read a request",
)
def request_detail_endpoint(request: HttpRequest, reference: str) -> dict[str, Any]:
    user = api_user(request)
    found = request_get_for(user=user, reference=reference)
    return _request_out(found, user=user)


@router.post(
    "/requests/{reference}/photos",
    response={201: RequestOut, **BODY_ERRORS},
    exclude_unset=True,
    summary="Add a photo to a request",
)
def request_photo_add_endpoint(
    request: HttpRequest, reference: str, photo: File[UploadedFile]
) -> Status[dict[str, Any]]:
    user = api_user(request)
    _require_role(user, REPORT_ROLES)
    found = request_get_for(user=user, reference=reference)
    with _api_field_names():
        request_photo_add(request=found, actor=user, upload=photo, channel=RepairRequest.Channel.API)
    return Status(201, _request_out(found, user=user))
