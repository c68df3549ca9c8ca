import importlib
from datetime import timedelta

import pytest
from django.core.mail import EmailMessage
from django.test import Client
from django.urls import NoReverseMatch, clear_url_caches, reverse
from django.utils import translation

from klantreis.accounts.tests.factories import staff_user
from klantreis.core.clock import DemoClock
from klantreis.core.models import DemoClockOffset, OutboxMail
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.demo.services import MESSAGE_OFFSET_TOO_LARGE

pytestmark = pytest.mark.django_db

STAFF_ROLES = ["agent", "planner", "technician", "subcontractor", "designer", "admin"]


@pytest.fixture
def demo(settings):
    """Demo mode, with the demo pages mounted as config.urls does then.

    The project's URLconf is loaded first, outside demo mode, so that it
    stays without the demo pages for the other tests."""
    importlib.import_module(settings.ROOT_URLCONF)
    settings.DEMO = True
    settings.ROOT_URLCONF = "klantreis.demo.tests.urls"
    settings.MAILERS = {"default": {"BACKEND": "klantreis.core.mail.OutboxBackend"}}


def shown(text):
    """`text` as the (Dutch by default) pages show it."""
    with translation.override("nl"):
        return translation.gettext(text)


def send(subject, body, to, clock):
    EmailMessage(subject, body, to=[to]).send()
    clock.advance(timedelta(minutes=1))


def offset():
    row = DemoClockOffset.objects.filter(pk=1).first()
    return row.offset if row else None


# Outbox ---------------------------------------------------------------------------


def test_anyone_reads_the_outbox_newest_first_with_clickable_links(client, demo, fixed_clock):
    send(
        "Your sign-in link",
        "Open http://localhost:8000/portal/sign-in/link/abc/ to sign in.",
        "a@example.nl",
        fixed_clock,
    )
    send("Second mail", "Nothing to click.", "b@example.com", fixed_clock)

    response = client.get(reverse("demo:outbox"))

    assert response.status_code == 200
    page = response.content.decode()
    assert page.index("Second mail") < page.index("Your sign-in link")
    assert "a@example.nl" in page
    assert "b@example.com" in page
    assert (
        '<a href="http://localhost:8000/portal/sign-in/link/abc/" rel="nofollow">'
        "http://localhost:8000/portal/sign-in/link/abc/</a>"
    ) in page


def test_long_links_keep_their_address_but_show_short(client, demo, fixed_clock):
    link = "http://localhost:8000/portal/sign-in/link/" + "x" * 120 + "/"
    send("Your sign-in link", f"Open {link}", "a@example.nl", fixed_clock)

    page = client.get(reverse("demo:outbox")).content.decode()

    assert f'<a href="{link}" rel="nofollow">{link[:59]}…</a>' in page


def test_the_outbox_narrows_to_one_address(client, demo, fixed_clock):
    send("For A", "Hello A", "a@example.nl", fixed_clock)
    send("For B", "Hello B", "b@example.com", fixed_clock)

    response = client.get(reverse("demo:outbox"), {"to": "b@example"})

    page = response.content.decode()
    assert "For B" in page
    assert "For A" not in page


def test_the_outbox_says_when_nothing_was_sent(client, demo):
    response = client.get(reverse("demo:outbox"), {"to": "nobody@example.nl"})

    assert response.status_code == 200
    assert shown("No mail to that address yet.") in response.content.decode()


def test_an_oversized_filter_is_refused_and_all_mail_shown(client, demo, fixed_clock):
    send("Kept", "Body", "a@example.nl", fixed_clock)

    response = client.get(reverse("demo:outbox"), {"to": "x" * 300})

    assert response.status_code == 200
    with translation.override("nl"):
        too_long = translation.ngettext(
            "Ensure this value has at most %(limit_value)d character (it has %(show_value)d).",
            "Ensure this value has at most %(limit_value)d characters (it has %(show_value)d).",
            254,
        ) % {"limit_value": 254, "show_value": 300}
    assert response.context["form"].errors == {"to": [too_long]}
    assert "Kept" in response.content.decode()


def test_the_outbox_escapes_what_a_mail_contains(client, demo, fixed_clock):
    send(
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(2)> http://localhost/x",
        "a@example.nl",
        fixed_clock,
    )

    page = client.get(reverse("demo:outbox")).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page


def test_the_outbox_is_read_only(client, demo):
    response = client.post(reverse("demo:outbox"), {"to": "a"})

    assert response.status_code == 405
    assert OutboxMail.objects.count() == 0


def test_the_outbox_is_gone_outside_demo_mode_even_if_mounted(client, demo, settings):
    settings.DEMO = False

    assert client.get("/demo/outbox/").status_code == 404


# Clock -------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in_by_the_clock(client, demo):
    response = client.get(reverse("demo:clock"))
    post = client.post(reverse("demo:clock"), {"action": "day"})

    assert response.status_code == 302
    assert response.url.startswith(reverse("portal:sign_in"))
    assert post.status_code == 302
    assert offset() is None


def test_customers_may_not_move_the_clock(client, demo):
    client.force_login(CustomerFactory().user)

    assert client.get(reverse("demo:clock")).status_code == 403
    assert client.post(reverse("demo:clock"), {"action": "day"}).status_code == 403
    assert offset() is None


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_staff_see_the_clock(client, demo, role):
    client.force_login(staff_user(role))

    response = client.get(reverse("demo:clock"))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="action" value="hour"' in page
    assert 'name="action" value="day"' in page
    assert 'name="action" value="reset"' in page
    assert offset() is None


def test_the_buttons_move_the_clock_forward_and_back(client, demo):
    client.force_login(staff_user("planner"))
    url = reverse("demo:clock")

    hour = client.post(url, {"action": "hour"})
    assert hour.status_code == 302
    assert hour.url == url
    assert offset() == timedelta(hours=1)

    client.post(url, {"action": "day"})
    assert offset() == timedelta(days=1, hours=1)
    shown_page = client.get(url)
    assert (shown_page.context["offset_days"], shown_page.context["offset_hours"]) == (1, 1)

    client.post(url, {"action": "reset"})
    assert offset() == timedelta()


def test_the_demo_clock_runs_ahead_by_the_offset(client, demo):
    client.force_login(staff_user("agent"))
    before = DemoClock().now()

    client.post(reverse("demo:clock"), {"action": "day"})

    assert DemoClock().now() - before >= timedelta(days=1)


@pytest.mark.parametrize("data", [{}, {"action": "week"}, {"action": "<script>"}, {"action": "day" * 500}])
def test_unknown_clock_actions_are_refused(client, demo, data):
    client.force_login(staff_user("agent"))

    response = client.post(reverse("demo:clock"), data)

    assert response.status_code == 400
    assert offset() is None
    assert "<script>" not in response.content.decode().split("<main", 1)[1]


def test_the_clock_stays_within_a_year(client, demo):
    DemoClockOffset.objects.create(pk=1, offset=timedelta(days=366))
    client.force_login(staff_user("agent"))

    response = client.post(reverse("demo:clock"), {"action": "hour"})

    assert response.status_code == 400
    assert str(MESSAGE_OFFSET_TOO_LARGE) in response.content.decode()
    assert offset() == timedelta(days=366)


def test_the_clock_needs_the_csrf_token(demo):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user("agent"))

    response = client.post(reverse("demo:clock"), {"action": "day"})

    assert response.status_code == 403
    assert offset() is None


def test_the_clock_is_gone_outside_demo_mode_even_if_mounted(client, demo, settings):
    settings.DEMO = False
    client.force_login(staff_user("agent"))

    assert client.post("/demo/clock/", {"action": "day"}).status_code == 404
    assert offset() is None


# Mounting -------------------------------------------------------------------------------


def test_the_demo_pages_do_not_exist_outside_demo_mode(client):
    client.force_login(staff_user("admin"))

    assert client.get("/demo/outbox/").status_code == 404
    assert client.post("/demo/clock/", {"action": "day"}).status_code == 404
    with pytest.raises(NoReverseMatch):
        reverse("demo:outbox")
    assert offset() is None


def test_the_project_urls_mount_the_demo_pages_in_demo_mode(settings):
    project_urls = importlib.import_module(settings.ROOT_URLCONF)
    settings.DEMO = True
    try:
        importlib.reload(project_urls)
        clear_url_caches()
        assert reverse("demo:outbox") == "/demo/outbox/"
        assert reverse("demo:clock") == "/demo/clock/"
    finally:
        settings.DEMO = False
        importlib.reload(project_urls)
        clear_url_caches()
    with pytest.raises(NoReverseMatch):
        reverse("demo:clock")
