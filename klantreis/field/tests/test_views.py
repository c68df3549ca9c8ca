"""The technician app's screens: who may open what, the day in route order,
a visit, and the status updates sent from it (once per key)."""

import io
import json
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.field.models import FieldUpdate, VisitPhoto
from klantreis.intake.services import request_create, request_photo_add
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.planning import services
from klantreis.planning.models import Job, Technician
from klantreis.planning.tests.days import AMSTERDAM

pytestmark = pytest.mark.django_db

DAY = reverse("field:day")
JSON = {"HTTP_ACCEPT": "application/json"}


def visit_url(job):
    return reverse("field:visit", kwargs={"job_id": job.pk})


def update_url(job):
    return reverse("field:visit_update", kwargs={"job_id": job.pk})


def follow_up_url(job):
    return reverse("field:follow_up", kwargs={"job_id": job.pk})


def events(job, activity):
    return Event.objects.filter(case_id=job.request.case_id, activity=activity).count()


def post_action(client, job, action, key=None, **data):
    return client.post(update_url(job), {"action": action, "key": str(key or uuid.uuid4()), **data})


def jpeg():
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="JPEG")
    return SimpleUploadedFile("werk.jpg", buffer.getvalue(), content_type="image/jpeg")


# --- Who may open the app ----------------------------------------------


@pytest.mark.parametrize("role", ["customer", "agent", "designer"])
def test_other_roles_are_refused(client, field_day, role):
    user = CustomerFactory().user if role == "customer" else UserFactory(role=role, language="en")
    client.force_login(user)
    job = field_day.jobs["east-1"]

    assert client.get(DAY).status_code == 403
    assert client.get(visit_url(job)).status_code == 403
    assert post_action(client, job, "arrived").status_code == 403
    assert client.post(follow_up_url(job), {"key": str(uuid.uuid4())}).status_code == 403
    assert events(job, "visit.arrived") == 0


def test_anonymous_is_sent_to_sign_in(client, field_day):
    job = field_day.jobs["east-1"]
    for response in (client.get(DAY), client.get(visit_url(job)), post_action(client, job, "arrived")):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:sign_in"))
    assert events(job, "visit.arrived") == 0


# --- The day -------------------------------------------------------------


def visit_ids(response):
    return [job.pk for _technician, visits in response.context["routes"] for job in visits]


def test_technician_sees_own_visits_of_today_in_route_order(client, field_day):
    jobs = field_day.jobs
    Job.objects.filter(pk=jobs["east-1"].pk).update(route_position=2)
    Job.objects.filter(pk=jobs["east-2"].pk).update(route_position=1)
    client.force_login(field_day.west_user)

    response = client.get(DAY)

    assert response.status_code == 200
    assert visit_ids(response) == [jobs["east-2"].pk, jobs["east-1"].pk]
    content = response.content.decode()
    assert str(jobs["east-1"].request.home) in content
    assert str(jobs["west-1"].request.home) not in content
    assert 'rel="manifest"' in content


def test_another_day_and_a_bad_day(client, field_day):
    client.force_login(field_day.west_user)

    assert visit_ids(client.get(DAY, {"day": "2026-03-12"})) == []
    bad = client.get(DAY, {"day": "11-03-2026<script>"})
    assert bad.status_code == 400
    assert "That is not a date" in bad.content.decode()
    assert "<script>" not in bad.content.decode()


def test_subcontractor_sees_only_their_firms_visits(client, field_day):
    client.force_login(field_day.sub_user)

    response = client.get(DAY)

    assert visit_ids(response) == [field_day.sub_job.pk]
    # Another technician's id is not theirs to choose.
    assert client.get(DAY, {"technician": field_day.west.pk}).status_code == 404


def test_planner_may_look_at_any_technicians_day(client, field_day):
    client.force_login(UserFactory(role="planner", language="en"))

    response = client.get(DAY, {"technician": field_day.east.pk})

    assert sorted(visit_ids(response)) == sorted([field_day.jobs["west-1"].pk, field_day.jobs["west-2"].pk])
    assert len(visit_ids(client.get(DAY))) == 5


def test_technician_without_a_profile(client, field_day):
    client.force_login(UserFactory(role="technician", language="en"))

    response = client.get(DAY)

    assert visit_ids(response) == []
    assert "not linked to a technician" in response.content.decode()


# --- A visit -------------------------------------------------------------


def test_visit_page_shows_the_request_and_the_navigation_link(client, field_day):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)

    response = client.get(visit_url(job))

    content = response.content.decode()
    assert response.status_code == 200
    home = job.request.home
    assert (
        f'href="geo:{home.latitude:f},{home.longitude:f}?q={home.latitude:f},{home.longitude:f}(' in content
    )
    assert job.request.description in content
    assert "On my way" in content
    assert "Arrived" in content
    assert "Completed" in content
    keys = response.context["keys"]
    assert all(str(uuid.UUID(keys[name])) == keys[name] for name in ("on_the_way", "arrived", "completed"))


@pytest.mark.parametrize("who", ["east_user", "sub_user"])
def test_someone_elses_visit_is_not_found(client, field_day, who):
    job = field_day.jobs["east-1"]  # Wim West's
    client.force_login(getattr(field_day, who))

    assert client.get(visit_url(job)).status_code == 404
    assert post_action(client, job, "arrived").status_code == 404
    assert events(job, "visit.arrived") == 0


def test_another_firms_visit_is_not_found_for_its_technician(client, field_day):
    client.force_login(field_day.west_user)

    assert client.get(visit_url(field_day.sub_job)).status_code == 404
    assert post_action(client, field_day.sub_job, "arrived").status_code == 404


def test_request_photos_are_served_to_whom_may_see_the_visit(client, field_day):
    job = field_day.jobs["east-1"]
    photo = request_photo_add(
        request=job.request, actor=job.request.customer.user, upload=jpeg(), channel="portal"
    )
    url = reverse("field:request_photo", kwargs={"reference": job.request.reference, "photo_id": photo.pk})
    client.force_login(field_day.west_user)

    assert client.get(url).status_code == 200
    assert url in client.get(visit_url(job)).content.decode()
    client.force_login(field_day.east_user)
    assert client.get(url).status_code == 404
    client.force_login(field_day.sub_user)
    assert client.get(url).status_code == 404


def test_history_of_the_home_shows_earlier_requests(client, field_day):
    job = field_day.jobs["east-1"]
    request = job.request
    earlier = request_create(
        actor=request.customer.user,
        customer=request.customer,
        home=request.home,
        channel="portal",
        tree=TriageTreeFactory(),
        answers={"flooding": "no", "where": "tap"},
        defect_location_code="BAD",
        description="Kraan drupt al weken",
    )
    type(earlier).objects.filter(pk=earlier.pk).update(reported_at=request.reported_at - timedelta(days=40))
    old_job = services.job_create(request=earlier, firm=field_day.firm, technician=None, actor=None)
    services.job_complete(job=old_job, status=Job.Status.FIXED, actor=None, note="Leertje vervangen")
    client.force_login(field_day.west_user)

    content = client.get(visit_url(job)).content.decode()

    assert "Kraan drupt al weken" in content
    assert "Leertje vervangen" in content


# --- Status updates ------------------------------------------------------


def test_on_my_way_with_the_phones_position(client, field_day):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)

    response = post_action(client, job, "on_the_way", latitude="52.1", longitude="5.15")

    assert response.status_code == 302
    assert response["Location"] == visit_url(job)
    job.refresh_from_db()
    assert job.on_the_way_at is not None
    assert job.expected_arrival is not None
    expected = f"expected {job.expected_arrival.astimezone(AMSTERDAM):%H:%M}"
    assert expected in client.get(DAY).content.decode()
    assert events(job, "technician.on_the_way") == 1
    west = Technician.objects.get(pk=field_day.west.pk)
    assert (west.last_latitude, west.last_longitude) == (52.1, 5.15)


@pytest.mark.parametrize(("latitude", "longitude"), [("91", "5"), ("abc", "5"), ("52.1", ""), ("nan", "inf")])
def test_on_my_way_with_a_bad_position_uses_the_start(client, field_day, latitude, longitude):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)

    response = post_action(client, job, "on_the_way", latitude=latitude, longitude=longitude)

    assert response.status_code == 302
    assert events(job, "technician.on_the_way") == 1
    west = Technician.objects.get(pk=field_day.west.pk)
    assert (west.last_latitude, west.last_longitude) == (west.start_latitude, west.start_longitude)


def test_arrived_replayed_with_the_same_key_is_applied_once(client, field_day):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)
    key = uuid.uuid4()

    first = post_action(client, job, "arrived", key=key)
    again = post_action(client, job, "arrived", key=key)

    assert (first.status_code, again.status_code) == (302, 302)
    assert events(job, "visit.arrived") == 1
    assert FieldUpdate.objects.filter(key=key).count() == 1
    # A new key for the same action is refused: already arrived.
    third = post_action(client, job, "arrived")
    assert third.status_code == 422
    assert "already arrived" in third.content.decode()
    assert events(job, "visit.arrived") == 1


def test_json_answers_for_the_apps_script(client, field_day):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)
    key = uuid.uuid4()

    done = client.post(update_url(job), {"action": "arrived", "key": str(key)}, **JSON)
    replay = client.post(update_url(job), {"action": "arrived", "key": str(key)}, **JSON)
    refused = client.post(update_url(job), {"action": "arrived", "key": str(uuid.uuid4())}, **JSON)

    assert done.status_code == replay.status_code == 200
    assert json.loads(done.content) == {
        "ok": True,
        "message": "Arrival recorded.",
        "redirect": visit_url(job),
    }
    assert json.loads(replay.content)["ok"] is True
    assert refused.status_code == 422
    assert json.loads(refused.content) == {"ok": False, "errors": ["You have already arrived at this job."]}
    assert events(job, "visit.arrived") == 1


def test_a_key_used_for_another_action_is_refused(client, field_day):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)
    key = uuid.uuid4()
    post_action(client, job, "on_the_way", key=key)

    response = post_action(client, job, "arrived", key=key)

    assert response.status_code == 422
    assert events(job, "visit.arrived") == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "explode", "key": str(uuid.uuid4())}, "not something this app can record"),
        ({"action": "arrived"}, "out of date"),
        ({"action": "arrived", "key": "not-a-uuid"}, "out of date"),
        ({"action": "<script>alert(1)</script>", "key": str(uuid.uuid4())}, "not something this app"),
    ],
)
def test_bad_actions_are_refused(client, field_day, data, message):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)

    response = client.post(update_url(job), data)

    assert response.status_code == 422
    content = response.content.decode()
    assert message in content
    assert "<script>alert(1)</script>" not in content
    assert not Event.objects.filter(case_id=job.request.case_id, activity__startswith="visit.").exists()


def complete(client, job, **data):
    return client.post(update_url(job), {"action": "completed", "key": str(uuid.uuid4()), **data})


def test_completed_fixed_with_notes_materials_and_a_photo(client, field_day):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)

    response = complete(
        client, job, status="fixed", note="Sifon vervangen", materials="Sifon 32 mm", photos=[jpeg()]
    )

    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.outcome_note, job.materials, job.not_fixed_reason) == (
        "fixed",
        "Sifon vervangen",
        "Sifon 32 mm",
        "",
    )
    photo = VisitPhoto.objects.get(job=job)
    assert photo.content_type == "image/jpeg"
    assert events(job, "visit.photos_added") == 1
    served = client.get(reverse("field:visit_photo", kwargs={"job_id": job.pk, "photo_id": photo.pk}))
    assert served.status_code == 200
    client.force_login(field_day.east_user)
    served = client.get(reverse("field:visit_photo", kwargs={"job_id": job.pk, "photo_id": photo.pk}))
    assert served.status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Please choose how the visit ended."),
        ({"status": "open"}, "Please choose how the visit ended."),
        ({"status": "not_fixed"}, "Please say why it could not be fixed."),
        ({"status": "not_fixed", "not_fixed_reason": "weather"}, "Select a valid choice"),
        ({"status": "fixed", "note": "x" * 2001}, "Please keep the note under 2000 characters."),
        ({"status": "fixed", "materials": "x" * 1001}, "under 1000 characters"),
    ],
)
def test_bad_completions_are_refused_and_keep_what_was_typed(client, field_day, data, message):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)

    response = complete(client, job, **data)

    assert response.status_code == 422
    assert message in response.content.decode()
    job.refresh_from_db()
    assert job.status == Job.Status.OPEN
    assert not Event.objects.filter(case_id=job.request.case_id, activity__startswith="visit.").exists()


def test_a_photo_that_is_not_one_is_refused(client, field_day):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)
    fake = SimpleUploadedFile("foto.jpg", b"<?php echo 1; ?>", content_type="image/jpeg")

    response = complete(client, job, status="fixed", note="Klaar", photos=[fake])

    assert response.status_code == 422
    assert "is not a photo we can read" in response.content.decode()
    assert "Klaar" in response.content.decode()  # what was typed is kept
    job.refresh_from_db()
    assert job.status == Job.Status.OPEN


def test_hostile_text_is_stored_as_text_and_shown_escaped(client, field_day):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)
    hostile = '<img src=x onerror="alert(1)">'

    complete(client, job, status="not_home", note=hostile)

    job.refresh_from_db()
    assert job.outcome_note == hostile
    content = client.get(visit_url(job)).content.decode()
    assert hostile not in content
    assert "&lt;img src=x" in content


def test_subcontractor_records_for_their_firms_technician(client, field_day):
    job = field_day.sub_job
    client.force_login(field_day.sub_user)

    assert post_action(client, job, "arrived").status_code == 302

    event = Event.objects.get(case_id=job.request.case_id, activity="visit.arrived")
    assert event.attributes["technician"] == field_day.sub_technician.pk


def test_planner_may_look_but_not_record(client, field_day):
    job = field_day.jobs["east-1"]
    client.force_login(UserFactory(role="planner", language="en"))

    assert client.get(visit_url(job)).status_code == 200
    assert post_action(client, job, "arrived").status_code == 403
    assert events(job, "visit.arrived") == 0


# --- Not fixed: the follow-up booked on site ----------------------------


def test_not_fixed_offers_follow_up_slots_from_the_material_date_and_books_one(client, field_day):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)
    response = complete(client, job, status="not_fixed", not_fixed_reason="material", materials="Sifon 40 mm")
    assert response.status_code == 302

    page = client.get(visit_url(job))
    slots = [choice.slot for day in page.context["slot_form"].days for choice in day.choices]
    assert slots
    assert min(slot.start.astimezone(AMSTERDAM).date().isoformat() for slot in slots) >= "2026-03-12"
    event = Event.objects.get(case_id=job.request.case_id, activity="visit.not_fixed")
    assert (event.attributes["reason"], event.attributes["materials"]) == ("material", "Sifon 40 mm")

    key = str(uuid.uuid4())
    booked = client.post(follow_up_url(job), {"key": key, "slot": slots[0].key, "after": "2026-03-12"})
    replay = client.post(follow_up_url(job), {"key": key, "slot": slots[0].key, "after": "2026-03-12"})

    assert (booked.status_code, replay.status_code) == (302, 302)
    follow_up = Job.objects.get(request=job.request, status=Job.Status.OPEN)
    assert (follow_up.visit_start, follow_up.visit_end) == (slots[0].start, slots[0].end)
    booking = Event.objects.get(
        case_id=job.request.case_id, activity="appointment.booked", attributes__job=follow_up.pk
    )
    assert (booking.channel, booking.actor_id, booking.attributes["follow_up"]) == (
        Event.Channel.ON_SITE,
        field_day.west_user.pk,
        True,
    )
    content = client.get(visit_url(job)).content.decode()
    assert "Appointment" in content


def test_follow_up_from_a_later_day_and_bad_input(client, field_day):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)
    complete(client, job, status="not_fixed", not_fixed_reason="time")

    later = client.get(visit_url(job), {"after": "2026-03-20"})
    assert later.status_code == 200
    assert list(later.context["slot_form"].days) == []  # urgent: only today and tomorrow
    assert "No time is free from that day" in later.content.decode()
    bad_day = client.get(visit_url(job), {"after": "tomorrow"})
    assert "That is not a date." in bad_day.content.decode()

    missing = client.post(follow_up_url(job), {"key": str(uuid.uuid4())})
    forged = client.post(follow_up_url(job), {"key": str(uuid.uuid4()), "slot": "1-2"})
    no_key = client.post(follow_up_url(job), {"slot": "1-2"})
    assert (missing.status_code, forged.status_code, no_key.status_code) == (422, 422, 422)
    assert "Please choose a time." in missing.content.decode()
    assert not Job.objects.filter(request=job.request, status=Job.Status.OPEN).exists()


def test_follow_up_is_refused_while_the_visit_is_open(client, field_day):
    job = field_day.jobs["east-1"]
    client.force_login(field_day.west_user)

    response = client.post(follow_up_url(job), {"key": str(uuid.uuid4()), "slot": "1-2"})

    assert response.status_code == 422
    assert Job.objects.filter(request=job.request).count() == 1


# --- The installable app -------------------------------------------------


def test_manifest_and_service_worker(client, db):
    manifest = client.get(reverse("field:manifest"))
    worker = client.get(reverse("field:service_worker"))

    assert manifest.status_code == 200
    assert manifest["Content-Type"] == "application/manifest+json"
    data = json.loads(manifest.content)
    assert (data["start_url"], data["scope"], data["display"]) == ("/field/", "/field/", "standalone")
    assert {icon["sizes"] for icon in data["icons"]} >= {"192x192", "512x512"}
    assert worker.status_code == 200
    assert worker["Content-Type"].startswith("text/javascript")
    assert "/static/field/field.js" in worker.content.decode()


def test_staff_home_sends_technicians_to_the_app(client, field_day):
    client.force_login(field_day.west_user)
    assert client.get("/")["Location"] == DAY
    client.force_login(field_day.sub_user)
    assert client.get("/")["Location"] == DAY
    assert 'href="/field/"' in client.get(DAY).content.decode()


def test_admin_lists_the_updates_read_only(client, field_day):
    post_action_user = field_day.west_user
    client.force_login(post_action_user)
    post_action(client, field_day.jobs["east-1"], "arrived")
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True, language="en")
    client.force_login(admin)

    listing = client.get(reverse("admin:field_fieldupdate_changelist"))

    assert listing.status_code == 200
    assert "arrived" in listing.content.decode()
    assert client.get(reverse("admin:field_fieldupdate_add")).status_code == 403
    assert client.get(reverse("admin:field_visitphoto_changelist")).status_code == 200
