"""request_information_add: what a tenant adds to an open request afterwards."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from klantreis.core.errors import ApplicationError
from klantreis.events.models import Event
from klantreis.intake import services
from klantreis.intake.models import RepairRequest, RequestPhoto
from klantreis.intake.photos import MESSAGE_PHOTO_TOO_MANY
from klantreis.intake.tests.test_services import create

pytestmark = pytest.mark.django_db


def png(name="p.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_text_and_photos_are_stored_with_one_event(vera, fixed_clock):
    request = create()

    services.request_information_add(
        request=request, actor=request.customer.user, text=" Ook in de gang ", photos=[png(), png()]
    )

    [event] = Event.objects.filter(activity="request.information_added")
    assert event.attributes == {"request": request.reference, "text": "Ook in de gang", "photos": 2}
    assert (event.channel, event.layer, event.role) == ("portal", "digital", "customer")
    assert RequestPhoto.objects.filter(request=request).count() == 2


def test_the_photos_of_a_request_stay_within_the_maximum(vera, fixed_clock, settings):
    settings.KLANTREIS_PHOTO_MAX_COUNT = 2
    request = create(photos=[png()])

    with pytest.raises(ApplicationError) as refused:
        services.request_information_add(
            request=request, actor=request.customer.user, text="", photos=[png(), png()]
        )

    assert refused.value.message == MESSAGE_PHOTO_TOO_MANY % {"max": 2}
    assert refused.value.field == "photos"
    assert RequestPhoto.objects.filter(request=request).count() == 1
    assert not Event.objects.filter(activity="request.information_added").exists()


@pytest.mark.parametrize(
    ("text", "photos", "message"),
    [
        ("", [], services.MESSAGE_INFORMATION_EMPTY),
        ("x" * (services.INFORMATION_MAX + 1), [], services.MESSAGE_INFORMATION_TOO_LONG % {"max": 2000}),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(vera, fixed_clock, text, photos, message):
    request = create()

    with pytest.raises(ApplicationError) as refused:
        services.request_information_add(
            request=request, actor=request.customer.user, text=text, photos=photos
        )

    assert refused.value.message == message
    assert not Event.objects.filter(activity="request.information_added").exists()


def test_a_request_closed_meanwhile_is_refused(vera, fixed_clock):
    request = create()
    RepairRequest.objects.filter(pk=request.pk).update(status=RepairRequest.Status.CANCELLED)

    with pytest.raises(ApplicationError) as refused:
        services.request_information_add(request=request, actor=request.customer.user, text="Nog iets")

    assert refused.value.message is services.MESSAGE_INFORMATION_CLOSED
    assert not Event.objects.filter(activity="request.information_added").exists()
