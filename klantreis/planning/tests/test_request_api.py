"""The request API as seen by a subcontractor's office and a technician:
only requests with a job of their own firm, or given to them."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image

from klantreis.accounts.models import User
from klantreis.accounts.tests.factories import UserFactory
from klantreis.accounts.tokens import api_token_create
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.intake.models import RepairRequest, RequestPhoto, VeraCode
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.planning.services import job_create
from klantreis.planning.tests.factories import FirmFactory, TechnicianFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/requests"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _reset_language():
    yield
    translation.deactivate()


def auth(user: User) -> dict[str, str]:
    _, key = api_token_create(user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def report(**overrides) -> RepairRequest:
    customer = CustomerFactory()
    return request_create(
        actor=customer.user,
        customer=customer,
        home=customer.homes.get(),
        channel=RepairRequest.Channel.PORTAL,
        tree=TriageTreeFactory(),
        answers={"flooding": "no", "where": "ceiling"},
        defect_location_code="BAD",
        description="Er komt water door het plafond.",
        **overrides,
    )


def jpeg() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 120, 10)).save(buffer, format="JPEG")
    return SimpleUploadedFile("lek.jpg", buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def firms(vera):
    """Two subcontractors, each with a job on one request; a third request has no job."""
    ours, theirs = FirmFactory(name="Van Vliet Installatie"), FirmFactory(name="Elektro Oost")
    office = UserFactory(role=User.Role.SUBCONTRACTOR)
    ours.members.add(office)
    mine, not_mine, unassigned = report(), report(), report()
    job_create(request=mine, firm=ours, technician=None, actor=None)
    job_create(request=not_mine, firm=theirs, technician=None, actor=None)
    return {"office": office, "ours": ours, "mine": mine, "not_mine": not_mine, "unassigned": unassigned}


def test_a_subcontractor_lists_only_requests_with_a_job_of_its_firm(client, firms):
    response = client.get(URL, **auth(firms["office"]))

    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert [item["reference"] for item in response.json()["items"]] == [firms["mine"].reference]


def test_a_subcontractor_reads_its_firms_request_but_not_others(client, firms):
    headers = auth(firms["office"])

    mine = client.get(f"{URL}/{firms['mine'].reference}", **headers)
    not_mine = client.get(f"{URL}/{firms['not_mine'].reference}", **headers)
    unassigned = client.get(f"{URL}/{firms['unassigned'].reference}", **headers)

    assert mine.status_code == 200
    assert mine.json()["status"] == "in_progress"
    assert (not_mine.status_code, unassigned.status_code) == (404, 404)


def test_a_subcontractor_sees_a_request_once_however_many_jobs_it_has(client, firms):
    request = firms["mine"]
    RequestPhoto.objects.create(
        request=request,
        image=jpeg(),
        content_type="image/jpeg",
        size_bytes=1,
        width=32,
        height=32,
        uploaded_at=request.reported_at,
        uploaded_by=request.reported_by,
    )
    job_create(request=request, firm=firms["ours"], technician=None, actor=None)

    response = client.get(URL, **auth(firms["office"]))

    assert [(item["reference"], item["photos"]) for item in response.json()["items"]] == [
        (request.reference, 1)
    ]


def test_a_subcontractor_may_not_add_photos_even_to_its_own_firms_request(client, firms):
    response = client.post(
        f"{URL}/{firms['mine'].reference}/photos", {"photo": jpeg()}, **auth(firms["office"])
    )

    assert response.status_code == 403
    assert RequestPhoto.objects.count() == 0


def test_a_technician_sees_only_the_requests_given_to_them(client, vera):
    loodgieter = VeraCode.objects.get(kind=VeraCode.Kind.SPECIALISM, code="LOO")
    firm = FirmFactory()
    me = TechnicianFactory(firm=firm, user=UserFactory(role=User.Role.TECHNICIAN), specialisms=[loodgieter])
    colleague = TechnicianFactory(firm=firm, specialisms=[loodgieter])
    mine, theirs = report(), report()
    job_create(request=mine, firm=firm, technician=me, actor=None)
    job_create(request=theirs, firm=firm, technician=colleague, actor=None)
    headers = auth(me.user)

    listed = client.get(URL, **headers)
    other = client.get(f"{URL}/{theirs.reference}", **headers)

    assert [item["reference"] for item in listed.json()["items"]] == [mine.reference]
    assert other.status_code == 404
