import io

import pytest
from django.urls import reverse
from PIL import Image

from klantreis.accounts.models import User
from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.intake.models import RepairRequest, RequestPhoto
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory

pytestmark = pytest.mark.django_db

STAFF_ROLES = ["agent", "planner", "technician", "subcontractor", "designer", "admin"]


@pytest.fixture
def tree(vera):
    return TriageTreeFactory()


@pytest.fixture
def tenant():
    return CustomerFactory()


def report_for(customer, tree, **overrides):
    return request_create(
        **{
            "actor": customer.user,
            "customer": customer,
            "home": customer.homes.get(),
            "channel": "portal",
            "tree": tree,
            "answers": {"flooding": "no", "where": "ceiling"},
            "defect_location_code": "BAD",
            "description": "Water door het plafond",
        }
        | overrides
    )


def step(client, data, htmx=False):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(reverse("portal:report"), data, headers=headers)


def test_a_tenant_reports_a_leak_step_by_step_without_javascript(client, tenant, tree, fixed_clock):
    client.force_login(tenant.user)
    home = tenant.homes.get()

    first = client.get(reverse("portal:report"))
    assert first.status_code == 200
    assert "Lekkage" in first.content.decode()

    problem = {"home": home.pk, "tree": "test-leak", "location": "BAD"}
    question1 = step(client, problem)
    assert "Stroomt er water dat u niet kunt stoppen?" in question1.content.decode()

    question2 = step(client, problem | {"answer_flooding": "no"})
    body = question2.content.decode()
    assert "Waar lekt het?" in body
    assert 'type="hidden" name="answer_flooding" value="no"' in body  # the first answer travels along

    details = step(client, problem | {"answer_flooding": "no", "answer_where": "ceiling"})
    assert "Lekkage door het plafond." in details.content.decode()
    assert RepairRequest.objects.count() == 0

    done = step(
        client,
        problem
        | {"answer_flooding": "no", "answer_where": "ceiling", "description": "Druppels", "submit": "1"},
    )

    request = RepairRequest.objects.get()
    assert done.status_code == 302
    # Straight on to step 2 of the journey: choosing a time.
    assert done["Location"] == reverse("portal:appointment", kwargs={"reference": request.reference})
    assert (request.customer, request.channel, request.urgency, request.specialism.code) == (
        tenant,
        "portal",
        "urgent",
        "LOO",
    )
    assert request.reference in client.get(done["Location"]).content.decode()
    page = client.get(reverse("portal:request_detail", kwargs={"reference": request.reference}))
    assert request.reference in page.content.decode()
    assert "Loodgieter" in page.content.decode()


def test_htmx_steps_return_only_the_form_and_redirect_by_header(client, tenant, tree):
    client.force_login(tenant.user)
    problem = {"home": tenant.homes.get().pk, "tree": "test-leak", "location": "BAD"}

    partial = step(client, problem, htmx=True)
    assert partial.status_code == 200
    assert "<html" not in partial.content.decode()
    assert 'id="report-flow"' in partial.content.decode()

    done = step(
        client,
        problem | {"answer_flooding": "no", "answer_where": "tap", "description": "Kraan", "submit": "1"},
        htmx=True,
    )
    assert done.status_code == 200
    assert done["HX-Redirect"] == reverse(
        "portal:appointment", kwargs={"reference": RepairRequest.objects.get().reference}
    )


def test_a_reported_emergency_goes_to_the_request_not_to_choosing_a_time(client, tenant, tree):
    client.force_login(tenant.user)
    problem = {"home": tenant.homes.get().pk, "tree": "test-leak", "location": "KEU"}

    done = step(client, problem | {"answer_flooding": "yes", "description": "Water!", "submit": "1"})

    request = RepairRequest.objects.get()
    assert request.urgency == "emergency"
    assert done.status_code == 302
    assert done["Location"] == reverse("portal:request_detail", kwargs={"reference": request.reference})


def test_an_emergency_tells_the_tenant_to_phone_at_once(client, tenant, tree):
    client.force_login(tenant.user)
    problem = {"home": tenant.homes.get().pk, "tree": "test-leak", "location": "KEU"}

    response = step(client, problem | {"answer_flooding": "yes"})

    body = response.content.decode()
    assert 'class="emergency"' in body
    assert 'href="tel:112"' in body  # the organisation's number (none configured: 112)
    assert RepairRequest.objects.count() == 0


def test_changing_an_answer_forgets_the_later_ones_and_keeps_the_description(client, tenant, tree):
    client.force_login(tenant.user)
    problem = {"home": tenant.homes.get().pk, "tree": "test-leak", "location": "BAD"}

    response = step(
        client,
        problem
        | {
            "answer_flooding": "no",
            "answer_where": "ceiling",
            "description": "mijn tekst",
            "change": "where",
        },
    )

    body = response.content.decode()
    assert "Waar lekt het?" in body
    assert 'type="hidden" name="answer_where"' not in body
    assert 'type="hidden" name="answer_flooding" value="no"' in body
    assert 'name="description" value="mijn tekst"' in body


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"description": ""}, "Beschrijf het probleem in een paar woorden."),
        ({"description": "x" * 2001}, "Houd de beschrijving korter dan 2000 tekens."),
    ],
)
def test_bad_details_keep_everything_and_save_nothing(client, tenant, tree, extra, message):
    client.force_login(tenant.user)
    data = {
        "home": tenant.homes.get().pk,
        "tree": "test-leak",
        "location": "BAD",
        "answer_flooding": "no",
        "answer_where": "ceiling",
        "submit": "1",
    } | extra

    response = step(client, data)

    body = response.content.decode()
    assert response.status_code == 422
    assert message in body
    assert 'type="hidden" name="answer_where" value="ceiling"' in body
    assert RepairRequest.objects.count() == 0
    assert Event.objects.count() == 0


def test_a_wrong_upload_gets_an_error_and_keeps_the_description(client, tenant, tree):
    client.force_login(tenant.user)
    fake = io.BytesIO(b"MZ\x90\x00 not a picture")
    fake.name = "virus.jpg"

    response = step(
        client,
        {
            "home": tenant.homes.get().pk,
            "tree": "test-leak",
            "location": "BAD",
            "answer_flooding": "no",
            "answer_where": "ceiling",
            "description": "Mijn beschrijving",
            "photos": fake,
            "submit": "1",
        },
    )

    body = response.content.decode()
    assert response.status_code == 422
    assert "virus.jpg" in body
    assert "Mijn beschrijving" in body
    assert RepairRequest.objects.count() == 0
    assert RequestPhoto.objects.count() == 0


def test_script_in_the_description_is_shown_as_text(client, tenant, tree):
    request = report_for(tenant, tree, description='<script>alert("x")</script>')
    client.force_login(tenant.user)

    body = client.get(
        reverse("portal:request_detail", kwargs={"reference": request.reference})
    ).content.decode()

    assert '<script>alert("x")</script>' not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body


@pytest.mark.parametrize(
    "data",
    [
        {"tree": "no-such-tree", "location": "BAD"},
        {"tree": "test-leak", "location": "NOPE"},
        {"tree": "test-leak", "location": "BAD", "home": "999999"},
    ],
)
def test_unknown_codes_in_the_first_step_get_an_error(client, tenant, tree, data):
    client.force_login(tenant.user)

    response = step(client, {"home": tenant.homes.get().pk} | data)

    assert response.status_code == 200
    assert 'class="error-summary"' in response.content.decode()
    assert RepairRequest.objects.count() == 0


def test_a_tenant_cannot_report_for_someone_elses_home(client, tenant, tree):
    other = CustomerFactory()
    client.force_login(tenant.user)

    response = step(client, {"home": other.homes.get().pk, "tree": "test-leak", "location": "BAD"})

    assert 'class="error-summary"' in response.content.decode()


def test_a_tampered_answer_asks_the_question_again(client, tenant, tree):
    client.force_login(tenant.user)

    response = step(
        client,
        {"home": tenant.homes.get().pk, "tree": "test-leak", "location": "BAD", "answer_flooding": "hack"},
    )

    body = response.content.decode()
    assert "Kies een van de antwoorden." in body
    assert "Stroomt er water dat u niet kunt stoppen?" in body


def test_another_tenants_request_is_not_found(client, tenant, tree):
    other = CustomerFactory()
    theirs = report_for(other, tree)
    client.force_login(tenant.user)

    assert (
        client.get(reverse("portal:request_detail", kwargs={"reference": theirs.reference})).status_code
        == 404
    )
    assert theirs.reference not in client.get(reverse("portal:home")).content.decode()


def test_a_photo_is_served_only_to_its_owner(client, tenant, tree):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    buffer.seek(0)
    buffer.name = "p.png"
    from django.core.files.uploadedfile import SimpleUploadedFile

    request = report_for(tenant, tree, photos=[SimpleUploadedFile("p.png", buffer.getvalue())])
    photo = request.photos.get()
    url = reverse("portal:request_photo", kwargs={"reference": request.reference, "photo_id": photo.pk})

    client.force_login(tenant.user)
    own = client.get(url)
    assert own.status_code == 200
    assert own["Content-Type"] == "image/png"

    client.force_login(CustomerFactory().user)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("name", ["portal:home", "portal:report"])
def test_anonymous_visitors_get_the_sign_in_page(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:sign_in") + "?next=")


@pytest.mark.parametrize("role", STAFF_ROLES)
@pytest.mark.parametrize("name", ["portal:home", "portal:report"])
def test_staff_cannot_use_the_customer_portal(client, role, name):
    client.force_login(UserFactory(role=role))

    assert client.get(reverse(name)).status_code == 403


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_cannot_open_a_request_through_the_portal(client, tenant, tree, role):
    request = report_for(tenant, tree)
    client.force_login(UserFactory(role=role))

    response = client.get(reverse("portal:request_detail", kwargs={"reference": request.reference}))

    assert response.status_code == 403


def test_a_customer_user_without_customer_record_gets_404(client):
    client.force_login(UserFactory(role=User.Role.CUSTOMER))

    assert client.get(reverse("portal:home")).status_code == 404


def test_the_strict_csp_header_is_sent(client):
    response = client.get(reverse("portal:sign_in"))

    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
