import pytest
from django.urls import reverse

from klantreis.accounts.models import Role
from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.tests.factories import CustomerFactory, HomeFactory
from klantreis.intake.models import RepairRequest
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.planning.services import job_create
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory

pytestmark = pytest.mark.django_db

ALL_ROLES = list(Role.values)
OFFICE = {"agent", "planner", "designer", "manager", "admin"}
INTAKE = {"agent", "admin"}


@pytest.fixture
def tree(vera):
    return TriageTreeFactory()


def reported(tree, customer=None, **overrides):
    customer = customer or CustomerFactory()
    return request_create(
        **{
            "actor": customer.user,
            "customer": customer,
            "home": customer.homes.get(),
            "channel": "portal",
            "tree": tree,
            "answers": {"flooding": "no", "where": "ceiling"},
            "defect_location_code": "BAD",
            "description": "Lek",
        }
        | overrides
    )


def user_with(role):
    if role == "customer":
        return CustomerFactory().user
    return UserFactory(role=role)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_request_list_by_role(client, tree, role):
    request = reported(tree)
    client.force_login(user_with(role))

    response = client.get(reverse("workspace:home"))

    if role == "customer":
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        assert (request.reference in response.content.decode()) == (role in OFFICE)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_request_detail_by_role(client, tree, role):
    request = reported(tree, agent_notes="")
    client.force_login(user_with(role))

    response = client.get(reverse("workspace:request_detail", kwargs={"reference": request.reference}))

    expected = 403 if role == "customer" else 200 if role in OFFICE else 404
    assert response.status_code == expected


def test_a_subcontractor_sees_only_its_own_firms_jobs(client, tree):
    ours, theirs = FirmFactory(name="Van Vliet"), FirmFactory(name="Elektro")
    office = UserFactory(role="subcontractor")
    ours.members.add(office)
    mine, not_mine = reported(tree), reported(tree)
    job_create(request=mine, firm=ours, technician=None, actor=None)
    job_create(request=not_mine, firm=theirs, technician=None, actor=None)
    client.force_login(office)

    listing = client.get(reverse("workspace:home")).content.decode()
    assert mine.reference in listing
    assert not_mine.reference not in listing
    assert (
        client.get(reverse("workspace:request_detail", kwargs={"reference": mine.reference})).status_code
        == 200
    )
    assert (
        client.get(reverse("workspace:request_detail", kwargs={"reference": not_mine.reference})).status_code
        == 404
    )


def test_a_technician_sees_only_jobs_given_to_them(client, tree, vera):
    from klantreis.intake.models import VeraCode

    loo = VeraCode.objects.get(kind="ONDERHOUDSPECIALISME", code="LOO")
    me = TechnicianFactory(user=UserFactory(role="technician"), specialisms=[loo])
    colleague = TechnicianFactory(firm=me.firm, specialisms=[loo])
    mine, not_mine = reported(tree), reported(tree)
    job_create(request=mine, firm=me.firm, technician=me, actor=None)
    job_create(request=not_mine, firm=me.firm, technician=colleague, actor=None)
    client.force_login(me.user)

    listing = client.get(reverse("workspace:home")).content.decode()

    assert mine.reference in listing
    assert not_mine.reference not in listing


def test_subcontractors_do_not_see_the_call_notes(client, tree):
    firm = FirmFactory()
    office = UserFactory(role="subcontractor")
    firm.members.add(office)
    agent = UserFactory(role="agent")
    customer = CustomerFactory()
    request = reported(tree, customer=customer, actor=agent, channel="phone", agent_notes="Sleutel bij buren")
    job_create(request=request, firm=firm, technician=None, actor=None)
    url = reverse("workspace:request_detail", kwargs={"reference": request.reference})

    client.force_login(office)
    assert "Sleutel bij buren" not in client.get(url).content.decode()
    client.force_login(agent)
    assert "Sleutel bij buren" in client.get(url).content.decode()


@pytest.mark.parametrize("name", ["workspace:home", "workspace:customer_search"])
def test_anonymous_visitors_get_the_sign_in_page(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:sign_in"))


@pytest.mark.parametrize("role", ALL_ROLES)
def test_only_agents_and_admins_take_phone_reports(client, tree, role):
    customer = CustomerFactory()
    client.force_login(user_with(role))

    search = client.get(reverse("workspace:customer_search"))
    intake = client.get(reverse("workspace:intake", kwargs={"customer_id": customer.pk}))

    expected = 200 if role in INTAKE else 403
    assert (search.status_code, intake.status_code) == (expected, expected)


def test_agent_finds_a_tenant_by_postcode_and_house_number(client):
    home = HomeFactory(postcode="3521AB", house_number=12)
    HomeFactory(postcode="3521AB", house_number=14)
    tenant = CustomerFactory(home=home, name="Fatima Yilmaz")
    client.force_login(UserFactory(role="agent"))

    response = client.get(reverse("workspace:customer_search"), {"postcode": "3521 ab", "house_number": "12"})

    body = response.content.decode()
    assert "Fatima Yilmaz" in body
    assert reverse("workspace:intake", kwargs={"customer_id": tenant.pk}) in body
    assert body.count("<strong>Oudegracht") == 1


def test_agent_finds_a_tenant_by_phone_number(client):
    tenant = CustomerFactory(phone="+31612345678", name="Piet de Vries")
    CustomerFactory(phone="+31687654321", name="Someone Else")
    client.force_login(UserFactory(role="agent"))

    response = client.get(
        reverse("workspace:customer_search"), {"phone": "06-1234 5678"}, headers={"HX-Request": "true"}
    )

    body = response.content.decode()
    assert "<html" not in body
    assert "Piet de Vries" in body
    assert "Someone Else" not in body
    assert reverse("workspace:intake", kwargs={"customer_id": tenant.pk}) in body


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"postcode": "35211AB"}, "Een postcode ziet eruit als 3512 AB."),
        ({"postcode": "<script>", "house_number": "1"}, "Een postcode ziet eruit als 3512 AB."),
        ({"postcode": "", "phone": ""}, "Vul een postcode en huisnummer in, of een telefoonnummer."),
        ({"postcode": "3521AB", "house_number": "twaalf"}, "3521AB"),
    ],
)
def test_bad_searches_get_a_clear_error_and_keep_the_input(client, query, message):
    client.force_login(UserFactory(role="agent"))

    response = client.get(reverse("workspace:customer_search"), query)

    body = response.content.decode()
    assert response.status_code == 200
    assert 'class="error-summary"' in body
    assert message in body
    assert "<script>" not in body


def test_agent_records_a_heating_failure_by_phone(client, vera, fixed_clock):
    heating = TriageTreeFactory(
        slug="test-heating",
        title_nl="Verwarming",
        definition={
            "start": "gas",
            "questions": {
                "gas": {
                    "text": {"nl": "Ruikt u gas?", "en": "Do you smell gas?"},
                    "answers": [
                        {"key": "yes", "label": {"nl": "Ja", "en": "Yes"}, "outcome": "gas"},
                        {"key": "no", "label": {"nl": "Nee", "en": "No"}, "outcome": "cold"},
                    ],
                }
            },
            "outcomes": {
                "gas": {
                    "urgency": "emergency",
                    "reason": {"nl": "Gaslucht.", "en": "Gas smell."},
                    "specialism": "CVI",
                    "minutes": 60,
                    "defect_type": "GAS",
                    "emergency_phone": "0800 9009",
                },
                "cold": {
                    "urgency": "urgent",
                    "reason": {"nl": "Geen verwarming.", "en": "No heating."},
                    "specialism": "CVI",
                    "minutes": 60,
                },
            },
        },
    )
    agent = UserFactory(role="agent")
    customer = CustomerFactory()
    client.force_login(agent)
    url = reverse("workspace:intake", kwargs={"customer_id": customer.pk})
    data = {"home": customer.homes.get().pk, "tree": heating.slug, "location": "TRI", "answer_gas": "no"}

    details = client.post(url, data)
    assert 'name="agent_notes"' in details.content.decode()

    done = client.post(
        url, data | {"description": "CV-ketel geeft storing", "agent_notes": "Belt terug", "submit": "1"}
    )

    request = RepairRequest.objects.get()
    assert done.status_code == 302
    assert (request.channel, request.reported_by, request.customer) == ("phone", agent, customer)
    assert (request.urgency, request.specialism.code, request.defect_location.code) == (
        "urgent",
        "CVI",
        "TRI",
    )
    assert request.agent_notes == "Belt terug"


def test_the_agent_may_choose_any_vera_location(client, tree):
    customer = CustomerFactory()
    client.force_login(UserFactory(role="agent"))

    response = client.get(reverse("workspace:intake", kwargs={"customer_id": customer.pk}))

    assert 'value="LIF"' in response.content.decode()  # the lift: not on the tenant's short list


def test_intake_for_an_unknown_customer_is_not_found(client):
    client.force_login(UserFactory(role="agent"))

    assert client.get(reverse("workspace:intake", kwargs={"customer_id": 999999})).status_code == 404


def _png():
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    return SimpleUploadedFile("p.png", buffer.getvalue())


@pytest.mark.parametrize("role", [*ALL_ROLES, "anonymous"])
def test_a_photo_by_role(client, tree, role):
    request = reported(tree, photos=[_png()])
    url = reverse(
        "workspace:request_photo",
        kwargs={"reference": request.reference, "photo_id": request.photos.get().pk},
    )
    if role != "anonymous":
        client.force_login(user_with(role))

    response = client.get(url)

    expected = {"anonymous": 302, "customer": 403}.get(role, 200 if role in OFFICE else 404)
    assert response.status_code == expected
    if expected == 200:
        assert response["Content-Type"] == "image/png"


def test_a_photo_of_another_request_is_not_found(client, tree):
    one, other = reported(tree, photos=[_png()]), reported(tree)
    client.force_login(UserFactory(role="agent"))

    url = reverse(
        "workspace:request_photo", kwargs={"reference": other.reference, "photo_id": one.photos.get().pk}
    )

    assert client.get(url).status_code == 404
