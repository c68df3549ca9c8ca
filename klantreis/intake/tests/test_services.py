import io
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from klantreis.accounts.models import User
from klantreis.accounts.tests.factories import UserFactory
from klantreis.core.errors import ApplicationError
from klantreis.customers.tests.factories import CustomerFactory, HomeFactory
from klantreis.events.models import Event
from klantreis.intake import photos, services
from klantreis.intake.models import RepairRequest, RequestPhoto
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.intake.triage import MESSAGE_INVALID_ANSWER

pytestmark = pytest.mark.django_db


def jpeg(name: str = "lek.jpg", size: tuple[int, int] = (64, 48), exif: bool = False) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, (200, 30, 30))
    kwargs = {}
    if exif:
        data = Image.Exif()
        data[0x0112] = 6  # orientation: rotated 90°
        data[0x010F] = "PhoneMaker"
        kwargs["exif"] = data.tobytes()
    image.save(buffer, format="JPEG", **kwargs)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def create(**overrides):
    customer = overrides.pop("customer", None) or CustomerFactory()
    arguments = {
        "actor": customer.user,
        "customer": customer,
        "home": customer.homes.get(),
        "channel": RepairRequest.Channel.PORTAL,
        "tree": TriageTreeFactory(),
        "answers": {"flooding": "no", "where": "ceiling"},
        "defect_location_code": "BAD",
        "description": "Er komt water door het plafond van de badkamer.",
    } | overrides
    return services.request_create(**arguments)


def test_request_create_derives_everything_from_the_triage(vera, fixed_clock):
    customer = CustomerFactory()

    request = create(customer=customer)

    assert request.reference == f"M26-{request.pk:06d}"
    assert request.urgency == "urgent"
    assert request.urgency_reason == "Lekkage door het plafond."
    assert request.specialism.code == "LOO"
    assert request.defect_type.code == "LEK"
    assert request.defect_location.code == "BAD"
    assert request.estimated_minutes == 90
    assert request.material == []
    assert request.status == RepairRequest.Status.REGISTERED
    assert request.reported_at == fixed_clock.now()
    assert [a["answer_key"] for a in request.triage_answers] == ["no", "ceiling"]
    assert request.triage_answers[1]["question"] == "Waar lekt het?"


def test_request_create_stores_triage_texts_in_the_customers_language(vera):
    customer = CustomerFactory(user__language="en")

    request = create(customer=customer)

    assert request.urgency_reason == "Leak through the ceiling."
    assert request.triage_answers[0] == {
        "question_key": "flooding",
        "question": "Is water flowing that you cannot stop?",
        "answer_key": "no",
        "answer": "No",
    }


def test_outcome_overrides_the_defect_type_and_sets_material(vera):
    request = create(answers={"flooding": "no", "where": "tap"})

    assert request.defect_type.code == "DRP"
    assert request.material == ["kraanleertje"]
    assert request.specialism.code == "LOA"


def test_request_create_writes_one_reported_event_in_the_same_transaction(vera, fixed_clock):
    agent = UserFactory(role=User.Role.AGENT)

    request = create(actor=agent, channel=RepairRequest.Channel.PHONE)

    events = list(Event.objects.all())
    assert len(events) == 1
    event = events[0]
    assert (event.case_id, event.activity, event.actor, event.role) == (
        request.case_id,
        "request.reported",
        agent,
        "agent",
    )
    assert (event.channel, event.layer) == ("phone", "human")
    assert event.occurred_at == fixed_clock.now()
    assert event.attributes["urgency"] == "urgent"
    assert event.attributes["triage_outcome"] == "ceiling"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"description": "   "}, "description"),
        ({"description": "x" * 2001}, "description"),
        ({"answers": {"flooding": "no"}}, "answers"),
        ({"answers": {"flooding": "maybe"}}, "answer_flooding"),
        ({"defect_location_code": "XYZ"}, "defectlocatie"),
        ({"agent_notes": "n" * 4001}, "agent_notes"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_saved(vera, overrides, field):
    with pytest.raises(ApplicationError) as raised:
        create(**overrides)

    assert raised.value.field == field
    assert RepairRequest.objects.count() == 0
    assert Event.objects.count() == 0


def test_invalid_answer_has_the_shared_message(vera):
    with pytest.raises(ApplicationError) as raised:
        create(answers={"flooding": "maybe"})

    assert raised.value.message == MESSAGE_INVALID_ANSWER


def test_a_home_of_someone_else_is_refused(vera):
    with pytest.raises(ApplicationError) as raised:
        create(home=HomeFactory())

    assert raised.value.message == services.MESSAGE_NOT_YOUR_HOME
    assert RepairRequest.objects.count() == 0


def test_an_inactive_tree_cannot_be_used(vera):
    tree = TriageTreeFactory(active=False)

    with pytest.raises(ApplicationError) as raised:
        create(tree=tree)

    assert raised.value.message == services.MESSAGE_TREE_INACTIVE


def test_script_in_the_description_is_stored_as_plain_text(vera):
    request = create(description="<script>alert(1)</script> lekkage")

    assert RepairRequest.objects.get(pk=request.pk).description == "<script>alert(1)</script> lekkage"


def test_photos_are_stored_without_exif_and_upright(vera):
    request = create(photos=[jpeg(exif=True, size=(64, 48))])

    photo = RequestPhoto.objects.get(request=request)
    assert photo.content_type == "image/jpeg"
    # Orientation 6 means the camera was turned: the stored picture is turned back.
    assert (photo.width, photo.height) == (48, 64)
    with Image.open(photo.image.open("rb")) as stored:
        assert dict(stored.getexif()) == {}


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
def test_bad_photos_are_refused_and_nothing_is_saved(vera, upload, message):
    with pytest.raises(ApplicationError) as raised:
        create(photos=[upload])

    assert str(raised.value) == str(message) % {"name": upload.name}
    assert RepairRequest.objects.count() == 0
    assert RequestPhoto.objects.count() == 0


def test_an_oversized_photo_is_refused(vera, settings):
    settings.KLANTREIS_PHOTO_MAX_BYTES = 1024 * 1024
    big = SimpleUploadedFile("big.jpg", b"\xff" * (1024 * 1024 + 1), content_type="image/jpeg")

    with pytest.raises(ApplicationError) as raised:
        create(photos=[big])

    assert str(raised.value) == str(photos.MESSAGE_PHOTO_TOO_LARGE) % {"name": "big.jpg", "max_mb": 1}
    assert RepairRequest.objects.count() == 0


def test_too_many_photos_are_refused(vera, settings):
    settings.KLANTREIS_PHOTO_MAX_COUNT = 2

    with pytest.raises(ApplicationError) as raised:
        create(photos=[jpeg(), jpeg(), jpeg()])

    assert str(raised.value) == str(photos.MESSAGE_PHOTO_TOO_MANY) % {"max": 2}


def test_status_changes_follow_the_allowed_paths(vera):
    request = create()

    services.request_status_change(
        request=request, status="in_progress", actor=None, channel="system", layer="digital"
    )
    with pytest.raises(ApplicationError):
        services.request_status_change(
            request=request, status="registered", actor=None, channel="system", layer="digital"
        )

    request.refresh_from_db()
    assert request.status == "in_progress"
    assert list(Event.objects.values_list("activity", flat=True)) == [
        "request.reported",
        "request.status_changed",
    ]


def test_reference_year_follows_the_clock(vera):
    from klantreis.core.clock import FixedClock, use_clock

    with use_clock(FixedClock(datetime(2027, 1, 1, 0, 5, tzinfo=UTC))):
        request = create()

    assert request.reference.startswith("M27-")
