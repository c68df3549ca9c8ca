"""The JSON API for repair requests: every role against every endpoint,
authentication, scope, bad input and the docs page.

Scope through jobs (technicians, subcontractors) is tested in
planning/tests/test_request_api.py: jobs belong to a higher layer."""

import io
import json
import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image

from klantreis.accounts.models import User
from klantreis.accounts.tests.factories import UserFactory
from klantreis.accounts.tokens import api_token_create, api_token_revoke
from klantreis.customers.tests.factories import CustomerFactory, HomeFactory
from klantreis.events.models import Event
from klantreis.intake import api as intake_api
from klantreis.intake import photos, services
from klantreis.intake.models import RepairRequest, RequestPhoto
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.intake.triage import MESSAGE_INVALID_ANSWER

pytestmark = pytest.mark.django_db

URL = "/api/v1/requests"
ROLES = [role.value for role in User.Role]
STAFF = [role for role in ROLES if role != "customer"]
ALL_REQUESTS = ["agent", "planner", "designer", "manager", "admin"]


@pytest.fixture(autouse=True)
def _reset_language():
    # The API activates the token user's language for the thread; do not let it leak.
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Every test makes several users; the real hasher costs half a second each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tree(vera):
    return TriageTreeFactory()


def user_with_role(role: str, **kwargs) -> User:
    if role == "customer":
        return CustomerFactory(**kwargs).user
    return UserFactory(role=role, **kwargs)


def auth(user: User) -> dict[str, str]:
    _, key = api_token_create(user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def report(customer=None, **overrides) -> RepairRequest:
    """A request reported through the portal, as the API would find it."""
    customer = customer or CustomerFactory()
    arguments = {
        "actor": customer.user,
        "customer": customer,
        "home": customer.homes.get(),
        "channel": RepairRequest.Channel.PORTAL,
        "tree": TriageTreeFactory(),
        "answers": {"flooding": "no", "where": "ceiling"},
        "defect_location_code": "BAD",
        "description": "Er komt water door het plafond.",
    } | overrides
    return services.request_create(**arguments)


def body(reporter, **overrides) -> dict:
    return {
        "customer": reporter.pk,
        "home": reporter.homes.get().reference,
        "triage_tree": "test-leak",
        "answers": {"flooding": "no", "where": "ceiling"},
        "defect_location": "BAD",
        "description": "Er komt water door het plafond van de badkamer.",
    } | overrides


def post_json(client, data, user, url=URL):
    return client.post(url, json.dumps(data), content_type="application/json", **auth(user))


def jpeg(name: str = "lek.jpg") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def error(message, field=None, language="nl", **params) -> dict:
    """The error body for a message constant (or English source text), in `language`."""
    with translation.override(language):
        text = translation.gettext(str(message))
        return {"detail": [{"field": field, "message": text % params if params else text}]}


# --- create ---------------------------------------------------------------------------------


def test_a_customer_reports_a_repair_for_their_own_home(client, tree, fixed_clock):
    customer = CustomerFactory()
    data = body(customer)
    del data["customer"]

    response = post_json(client, data, customer.user)

    assert response.status_code == 201
    created = RepairRequest.objects.get()
    assert response.json() == {
        "reference": created.reference,
        "status": "registered",
        "urgency": "urgent",
        "urgency_reason": "Lekkage door het plafond.",
        "reported_at": "2026-03-10T09:30:00+01:00",
        "channel": "api",
        "description": "Er komt water door het plafond van de badkamer.",
        "defect_type": {"code": "LEK", "name": "Lekt"},
        "defect_location": {"code": "BAD", "name": "Badkamer / doucheruimte"},
        "specialism": {"code": "LOO", "name": "Loodgieter"},
        "estimated_minutes": 90,
        "material": [],
        "triage_answers": [
            {
                "question_key": "flooding",
                "question": "Stroomt er water dat u niet kunt stoppen?",
                "answer_key": "no",
                "answer": "Nee",
            },
            {
                "question_key": "where",
                "question": "Waar lekt het?",
                "answer_key": "ceiling",
                "answer": "Plafond",
            },
        ],
        "home": {
            "reference": customer.homes.get().reference,
            "address": customer.homes.get().address_line,
            "postcode": "3511AB",
            "city": "Utrecht",
        },
        "customer": customer.pk,
        "photos": 0,
    }
    assert "agent_notes" not in response.json()
    assert (created.customer, created.reported_by, created.channel) == (customer, customer.user, "api")


def test_a_created_request_writes_exactly_one_reported_event_on_the_api_channel(client, tree, fixed_clock):
    customer = CustomerFactory()

    response = post_json(client, body(customer), customer.user)

    assert response.status_code == 201
    event = Event.objects.get()
    assert (event.case_id, event.activity, event.channel, event.layer, event.actor, event.role) == (
        f"request:{response.json()['reference']}",
        "request.reported",
        "api",
        "digital",
        customer.user,
        "customer",
    )
    assert event.occurred_at == fixed_clock.now()


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_the_desk_reports_for_a_customer_with_notes(client, tree, role):
    desk = UserFactory(role=role)
    customer = CustomerFactory()

    response = post_json(client, body(customer, agent_notes="Belde om 9 uur, sleutel bij buren."), desk)

    assert response.status_code == 201
    created = RepairRequest.objects.get()
    assert (created.customer, created.reported_by, created.agent_notes) == (
        customer,
        desk,
        "Belde om 9 uur, sleutel bij buren.",
    )
    assert response.json()["agent_notes"] == "Belde om 9 uur, sleutel bij buren."
    assert response.json()["customer"] == customer.pk
    assert Event.objects.get().role == role


@pytest.mark.parametrize("role", ["planner", "technician", "subcontractor", "designer"])
def test_other_staff_roles_may_not_report(client, tree, role):
    customer = CustomerFactory()

    response = post_json(client, body(customer), UserFactory(role=role))

    assert response.status_code == 403
    assert response.json() == error("Your role may not do this.")
    assert RepairRequest.objects.count() == 0
    assert Event.objects.count() == 0


def test_a_customer_may_name_their_own_id(client, tree):
    customer = CustomerFactory()

    response = post_json(client, body(customer), customer.user)

    assert response.status_code == 201
    assert RepairRequest.objects.get().customer == customer


def test_a_customer_cannot_report_for_another_customer(client, tree):
    customer, other = CustomerFactory(), CustomerFactory()

    response = post_json(client, body(other), customer.user)

    assert response.status_code == 422
    assert response.json() == error(intake_api.MESSAGE_ONLY_YOURSELF, "customer")
    assert RepairRequest.objects.count() == 0
    assert Event.objects.count() == 0


@pytest.mark.parametrize("home_reference", ["someone-else", "VHE-999999"])
def test_a_customer_learns_only_that_a_home_is_not_theirs(client, tree, home_reference):
    customer = CustomerFactory()
    if home_reference == "someone-else":
        home_reference = HomeFactory().reference

    response = post_json(client, body(customer, customer=None, home=home_reference), customer.user)

    assert response.status_code == 422
    assert response.json() == error(services.MESSAGE_NOT_YOUR_HOME, "home")
    assert RepairRequest.objects.count() == 0


def test_a_customer_cannot_write_agent_notes(client, tree):
    customer = CustomerFactory()

    response = post_json(client, body(customer, agent_notes="VIP"), customer.user)

    assert response.status_code == 422
    assert response.json() == error(intake_api.MESSAGE_NOTES_STAFF_ONLY, "agent_notes")
    assert RepairRequest.objects.count() == 0


@pytest.mark.parametrize(
    ("customer_id", "message"),
    [(None, intake_api.MESSAGE_CUSTOMER_REQUIRED), (999_999, intake_api.MESSAGE_UNKNOWN_CUSTOMER)],
)
def test_the_desk_must_name_an_existing_customer(client, tree, customer_id, message):
    customer = CustomerFactory()

    response = post_json(client, body(customer, customer=customer_id), UserFactory(role="agent"))

    assert response.status_code == 422
    assert response.json() == error(message, "customer")
    assert RepairRequest.objects.count() == 0


def test_the_desk_is_told_when_a_home_does_not_exist(client, tree):
    customer = CustomerFactory()

    response = post_json(client, body(customer, home="VHE-999999"), UserFactory(role="agent"))

    assert response.status_code == 422
    assert response.json() == error(intake_api.MESSAGE_UNKNOWN_HOME, "home")


@pytest.mark.parametrize(
    ("overrides", "message", "params", "field"),
    [
        ({"defect_location": "XYZ"}, services.MESSAGE_UNKNOWN_LOCATION, {"code": "XYZ"}, "defect_location"),
        ({"triage_tree": "nope"}, intake_api.MESSAGE_UNKNOWN_TREE, {"slug": "nope"}, "triage_tree"),
        ({"answers": {"flooding": "maybe"}}, MESSAGE_INVALID_ANSWER, {}, "answers.flooding"),
        ({"answers": {"flooding": "no"}}, services.MESSAGE_TRIAGE_UNFINISHED, {}, "answers"),
        ({"answers": {}}, services.MESSAGE_TRIAGE_UNFINISHED, {}, "answers"),
        ({"description": "   "}, services.MESSAGE_DESCRIPTION_EMPTY, {}, "description"),
        ({"description": "x" * 2001}, services.MESSAGE_DESCRIPTION_TOO_LONG, {"max": 2000}, "description"),
        ({"agent_notes": "n" * 4001}, services.MESSAGE_NOTES_TOO_LONG, {"max": 4000}, "agent_notes"),
    ],
)
def test_bad_input_gets_a_clear_error_and_nothing_is_saved(client, tree, overrides, message, params, field):
    agent = UserFactory(role="agent")

    response = post_json(client, body(CustomerFactory(), **overrides), agent)

    assert response.status_code == 422
    assert response.json() == error(message, field, **params)
    assert RepairRequest.objects.count() == 0
    assert Event.objects.count() == 0


def test_a_description_of_exactly_2000_characters_is_accepted(client, tree):
    response = post_json(client, body(CustomerFactory(), description="x" * 2000), UserFactory(role="agent"))

    assert response.status_code == 201
    assert len(RepairRequest.objects.get().description) == 2000


def test_an_inactive_tree_is_refused(client, vera):
    TriageTreeFactory(active=False)

    response = post_json(client, body(CustomerFactory()), UserFactory(role="agent"))

    assert response.status_code == 422
    assert response.json() == error(services.MESSAGE_TREE_INACTIVE, "triage_tree")


def test_missing_and_wrongly_typed_fields_are_named(client, tree):
    response = post_json(
        client, {"customer": "one", "answers": ["no"], "description": 5}, UserFactory(role="agent")
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"field": "customer", "message": "Stuur hier een heel getal."},
            {"field": "home", "message": "Dit veld is verplicht."},
            {"field": "triage_tree", "message": "Dit veld is verplicht."},
            {"field": "answers", "message": "Stuur hier een object."},
            {"field": "defect_location", "message": "Dit veld is verplicht."},
            {"field": "description", "message": "Stuur hier tekst."},
        ]
    }
    assert RepairRequest.objects.count() == 0


@pytest.mark.parametrize("field", ["home", "triage_tree", "defect_location"])
def test_overlong_codes_are_refused_before_any_lookup(client, tree, field):
    response = post_json(client, body(CustomerFactory(), **{field: "X" * 60}), UserFactory(role="agent"))

    assert response.status_code == 422
    assert response.json() == error("This text is too long.", field)
    assert RepairRequest.objects.count() == 0


def test_errors_come_in_the_token_users_language(client, tree):
    english = UserFactory(role="agent", language="en")
    dutch = UserFactory(role="agent", language="nl")
    data = body(CustomerFactory(), description="x" * 2001)

    in_english = post_json(client, data, english)
    in_dutch = post_json(client, data, dutch)

    assert in_english.json() == error(
        services.MESSAGE_DESCRIPTION_TOO_LONG, "description", language="en", max=2000
    )
    assert in_dutch.json() == error(
        services.MESSAGE_DESCRIPTION_TOO_LONG, "description", language="nl", max=2000
    )
    assert in_english.json()["detail"][0]["message"] == "Please keep the description under 2000 characters."
    assert in_dutch.json()["detail"][0]["message"] == "Houd de beschrijving korter dan 2000 tekens."
    assert in_english["Content-Language"] == "en"
    assert in_dutch["Content-Language"] == "nl"


def test_script_in_the_description_is_stored_and_echoed_as_an_inert_string(client, tree):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> & lek'

    response = post_json(client, body(CustomerFactory(), description=hostile), UserFactory(role="agent"))

    assert response.status_code == 201
    assert RepairRequest.objects.get().description == hostile
    assert response.json()["description"] == hostile
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    # Escaped in the raw JSON too, so even a careless client cannot inject markup.
    raw = response.content.decode()
    assert "<" not in raw
    assert ">" not in raw
    assert "\\u003cscript\\u003e" in raw


def test_a_body_that_is_not_json_is_refused(client, tree):
    customer = CustomerFactory()

    response = client.post(URL, body(customer), **auth(customer.user))

    assert response.status_code == 415
    assert response.json() == error("Please send the request as JSON (Content-Type: application/json).")
    assert RepairRequest.objects.count() == 0


def test_broken_json_is_refused(client, tree):
    customer = CustomerFactory()

    response = client.post(URL, '{"home": ', content_type="application/json", **auth(customer.user))

    assert response.status_code == 400
    assert response.json() == error("The request body is not valid JSON.")


def test_an_oversized_body_is_refused(client, tree, settings):
    customer = CustomerFactory()
    data = json.dumps(body(customer, description="x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)))

    response = client.post(URL, data, content_type="application/json", **auth(customer.user))

    assert response.status_code == 413
    assert response.json() == error("The request is too large.")
    assert RepairRequest.objects.count() == 0


# --- list -----------------------------------------------------------------------------------


def test_a_customer_lists_only_their_own_requests_newest_first(client, tree, fixed_clock):
    customer = CustomerFactory()
    older = report(customer)
    fixed_clock.advance(timedelta(hours=1))
    newer = report(customer)
    report()

    response = client.get(URL, **auth(customer.user))

    assert response.status_code == 200
    page = response.json()
    assert (page["count"], page["limit"], page["offset"]) == (2, 50, 0)
    assert [item["reference"] for item in page["items"]] == [newer.reference, older.reference]
    assert all("agent_notes" not in item for item in page["items"])


@pytest.mark.parametrize("role", ROLES)
def test_each_role_lists_the_requests_in_its_scope(client, tree, role):
    user = user_with_role(role)
    mine = report(user.customer) if role == "customer" else None
    others = report(agent_notes="", actor=UserFactory(role="agent"), channel="phone")

    response = client.get(URL, **auth(user))

    assert response.status_code == 200
    references = [item["reference"] for item in response.json()["items"]]
    if role == "customer":
        assert references == [mine.reference]
    elif role in ALL_REQUESTS:
        assert references == [others.reference]
    else:
        # Technicians and subcontractors see only requests with a job of theirs.
        assert references == []


def test_staff_see_the_agent_notes_in_the_list(client, tree):
    report(agent_notes="Hond in huis.", actor=UserFactory(role="agent"), channel="phone")

    response = client.get(URL, **auth(UserFactory(role="planner")))

    assert response.json()["items"][0]["agent_notes"] == "Hond in huis."


def test_the_list_is_paginated(client, tree, fixed_clock):
    created = []
    for _ in range(5):
        created.append(report())
        fixed_clock.advance(timedelta(minutes=1))
    newest_first = [r.reference for r in reversed(created)]

    response = client.get(URL, {"limit": 2, "offset": 2}, **auth(UserFactory(role="agent")))

    page = response.json()
    assert (page["count"], page["limit"], page["offset"]) == (5, 2, 2)
    assert [item["reference"] for item in page["items"]] == newest_first[2:4]


def test_the_list_filters_on_status_urgency_and_dates(client, tree, fixed_clock):
    agent = UserFactory(role="agent")
    first = report()  # 09:30 Amsterdam, urgent
    fixed_clock.advance(timedelta(days=1))
    second = report(answers={"flooding": "no", "where": "tap"})  # normal
    fixed_clock.advance(timedelta(days=1))
    third = report(answers={"flooding": "yes"})  # emergency
    services.request_status_change(
        request=third, status="in_progress", actor=agent, channel="system", layer="digital"
    )

    def references(**params):
        response = client.get(URL, params, **auth(agent))
        assert response.status_code == 200
        return [item["reference"] for item in response.json()["items"]]

    assert references(status="in_progress") == [third.reference]
    assert references(status="registered") == [second.reference, first.reference]
    assert references(urgency="normal") == [second.reference]
    assert references(reported_after="2026-03-11T09:30:00+01:00") == [third.reference, second.reference]
    assert references(reported_before="2026-03-11T09:30:00+01:00") == [first.reference]
    # Without an offset the time is read in Europe/Amsterdam.
    assert references(reported_after="2026-03-11T09:30:00", reported_before="2026-03-12T00:00:00") == [
        second.reference
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"urgency": "whenever"}, "urgency"),
        ({"reported_after": "yesterday"}, "reported_after"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_filters_are_named(client, tree, params, field):
    response = client.get(URL, params, **auth(UserFactory(role="agent")))

    assert response.status_code == 422
    assert [item["field"] for item in response.json()["detail"]] == [field]


# --- detail ---------------------------------------------------------------------------------


def test_a_customer_reads_their_own_request(client, tree, fixed_clock):
    customer = CustomerFactory()
    mine = report(customer, agent_notes="Niet voor de klant.")

    response = client.get(f"{URL}/{mine.reference}", **auth(customer.user))

    assert response.status_code == 200
    assert response.json()["reference"] == mine.reference
    assert response.json()["channel"] == "portal"
    assert "agent_notes" not in response.json()
    assert "Niet voor de klant." not in response.content.decode()


def test_another_customers_request_is_not_found(client, tree):
    customer = CustomerFactory()
    theirs = report()

    response = client.get(f"{URL}/{theirs.reference}", **auth(customer.user))

    assert response.status_code == 404
    assert response.json() == error("Not found.")


def test_an_unknown_reference_is_not_found(client, tree):
    response = client.get(f"{URL}/M26-999999", **auth(UserFactory(role="agent")))

    assert response.status_code == 404


@pytest.mark.parametrize("role", STAFF)
def test_each_staff_role_reads_a_request_only_in_its_scope(client, tree, role):
    request = report(agent_notes="Sleutel bij buren.", actor=UserFactory(role="agent"), channel="phone")

    response = client.get(f"{URL}/{request.reference}", **auth(UserFactory(role=role)))

    if role in ALL_REQUESTS:
        assert response.status_code == 200
        assert response.json()["agent_notes"] == "Sleutel bij buren."
    else:
        assert response.status_code == 404


# --- photos ---------------------------------------------------------------------------------


def photo_url(request: RepairRequest) -> str:
    return f"{URL}/{request.reference}/photos"


def test_the_reporter_adds_a_photo(client, tree, fixed_clock):
    customer = CustomerFactory()
    request = report(customer)

    response = client.post(photo_url(request), {"photo": jpeg()}, **auth(customer.user))

    assert response.status_code == 201
    assert response.json()["photos"] == 1
    photo = RequestPhoto.objects.get()
    assert (photo.request, photo.uploaded_by, photo.content_type, photo.width, photo.height) == (
        request,
        customer.user,
        "image/jpeg",
        64,
        48,
    )
    event = Event.objects.filter(activity="request.photo_added").get()
    assert (event.case_id, event.channel, event.layer, event.actor, event.occurred_at) == (
        request.case_id,
        "api",
        "digital",
        customer.user,
        fixed_clock.now(),
    )
    assert event.attributes == {
        "request": request.reference,
        "photo": photo.pk,
        "content_type": "image/jpeg",
        "size_bytes": photo.size_bytes,
        "photos": 1,
    }


@pytest.mark.parametrize("role", ROLES)
def test_each_role_against_adding_a_photo_to_someone_elses_request(client, tree, role):
    request = report()

    response = client.post(photo_url(request), {"photo": jpeg()}, **auth(user_with_role(role)))

    expected = {"customer": 404, "agent": 201, "admin": 201}.get(role, 403)
    assert response.status_code == expected
    assert RequestPhoto.objects.count() == (1 if expected == 201 else 0)
    assert Event.objects.filter(activity="request.photo_added").count() == (1 if expected == 201 else 0)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("empty.jpg", b"", content_type="image/jpeg"), photos.MESSAGE_PHOTO_EMPTY),
        (
            SimpleUploadedFile("evil.jpg", b"<?php system($_GET['c']); ?>", content_type="image/jpeg"),
            photos.MESSAGE_PHOTO_WRONG_TYPE,
        ),
        (
            SimpleUploadedFile("doc.pdf", b"%PDF-1.4 fake", content_type="application/pdf"),
            photos.MESSAGE_PHOTO_WRONG_TYPE,
        ),
    ],
)
def test_a_bad_photo_is_refused(client, tree, upload, message):
    customer = CustomerFactory()
    request = report(customer)

    response = client.post(photo_url(request), {"photo": upload}, **auth(customer.user))

    assert response.status_code == 422
    assert response.json() == error(message, "photo", name=upload.name)
    assert RequestPhoto.objects.count() == 0
    assert Event.objects.filter(activity="request.photo_added").count() == 0


def test_an_oversized_photo_is_refused(client, tree, settings):
    settings.KLANTREIS_PHOTO_MAX_BYTES = 1024 * 1024
    customer = CustomerFactory()
    request = report(customer)
    big = SimpleUploadedFile("big.jpg", b"\xff" * (1024 * 1024 + 1), content_type="image/jpeg")

    response = client.post(photo_url(request), {"photo": big}, **auth(customer.user))

    assert response.status_code == 422
    assert response.json() == error(photos.MESSAGE_PHOTO_TOO_LARGE, "photo", name="big.jpg", max_mb=1)
    assert RequestPhoto.objects.count() == 0


def test_a_photo_upload_without_a_file_names_the_field(client, tree):
    customer = CustomerFactory()
    request = report(customer)

    as_json = client.post(
        photo_url(request),
        json.dumps({"photo": "aGVsbG8="}),
        content_type="application/json",
        **auth(customer.user),
    )
    empty_form = client.post(photo_url(request), {"note": "hi"}, **auth(customer.user))

    for response in (as_json, empty_form):
        assert response.status_code == 422
        assert response.json() == error("This field is required.", "photo")
    assert RequestPhoto.objects.count() == 0


def test_no_more_photos_than_allowed(client, tree, settings):
    settings.KLANTREIS_PHOTO_MAX_COUNT = 1
    customer = CustomerFactory()
    request = report(customer, photos=[jpeg()])

    response = client.post(photo_url(request), {"photo": jpeg()}, **auth(customer.user))

    assert response.status_code == 422
    assert response.json() == error(photos.MESSAGE_PHOTO_TOO_MANY, "photo", max=1)
    assert RequestPhoto.objects.count() == 1


def test_no_photos_on_a_closed_request(client, tree):
    customer = CustomerFactory()
    request = report(customer)
    services.request_status_change(
        request=request, status="cancelled", actor=None, channel="system", layer="digital"
    )

    response = client.post(photo_url(request), {"photo": jpeg()}, **auth(customer.user))

    assert response.status_code == 422
    assert response.json() == error(services.MESSAGE_REQUEST_CLOSED, "photo")
    assert RequestPhoto.objects.count() == 0


def test_a_photo_for_an_unknown_request_is_not_found(client, tree):
    response = client.post(f"{URL}/M26-999999/photos", {"photo": jpeg()}, **auth(UserFactory(role="agent")))

    assert response.status_code == 404
    assert RequestPhoto.objects.count() == 0


# --- authentication -------------------------------------------------------------------------


def endpoints(reference: str) -> list[tuple[str, str]]:
    return [
        ("post", URL),
        ("get", URL),
        ("get", f"{URL}/{reference}"),
        ("post", f"{URL}/{reference}/photos"),
    ]


def call(client, method: str, url: str, **headers):
    if method == "post" and url.endswith("/photos"):
        return client.post(url, {"photo": jpeg()}, **headers)
    if method == "post":
        return client.post(url, "{}", content_type="application/json", **headers)
    return client.get(url, **headers)


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("case", ["missing", "wrong", "revoked", "inactive", "basic", "session"])
def test_without_a_valid_token_every_endpoint_answers_401(client, tree, index, case):
    customer = CustomerFactory()
    request = report(customer)
    token, key = api_token_create(user=customer.user, name="test")
    headers = {}
    if case == "wrong":
        headers = {"HTTP_AUTHORIZATION": "Bearer kr_this-is-not-a-key"}
    elif case == "revoked":
        api_token_revoke(token=token)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    elif case == "inactive":
        User.objects.filter(pk=customer.user.pk).update(is_active=False)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    elif case == "basic":
        headers = {"HTTP_AUTHORIZATION": "Basic dGVuYW50OnNlY3JldA=="}
    elif case == "session":
        # A browser session is no API credential (and so needs no CSRF token).
        client.force_login(customer.user)
    method, url = endpoints(request.reference)[index]
    requests_before = RepairRequest.objects.count()

    response = call(client, method, url, **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="klantreis"'
    assert [item["field"] for item in response.json()["detail"]] == [None]
    assert RepairRequest.objects.count() == requests_before
    assert RequestPhoto.objects.count() == 0


def test_a_valid_token_works_on_every_endpoint(client, tree):
    customer = CustomerFactory()
    request = report(customer)
    headers = auth(customer.user)

    statuses = [
        call(client, method, url, **headers).status_code for method, url in endpoints(request.reference)
    ]

    # The empty create body is refused for what it is, not for who sent it.
    assert statuses == [422, 200, 200, 201]


# --- documentation --------------------------------------------------------------------------


def test_the_openapi_document_describes_the_endpoints_and_bearer_auth(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert sorted(document["paths"]) == [
        "/api/v1/requests",
        "/api/v1/requests/{reference}",
        "/api/v1/requests/{reference}/photos",
    ]
    assert document["components"]["securitySchemes"] == {"ApiTokenAuth": {"type": "http", "scheme": "bearer"}}
    assert "agent_notes" in document["components"]["schemas"]["RequestOut"]["properties"]


def test_the_docs_page_loads_nothing_from_another_origin(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html)
    assert references
    assert all(reference.startswith("/static/") for reference in references), references
    assert not re.search(r"""(?:src|href)\s*=\s*["']\s*(?:https?:)?//""", html)
    assert "validatorUrl" in html
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_docs_static_files_are_shipped(client):
    from django.contrib.staticfiles import finders

    for name in ("ninja/swagger-ui-bundle.js", "ninja/swagger-ui-init.js", "ninja/swagger-ui.css"):
        assert finders.find(name), name
