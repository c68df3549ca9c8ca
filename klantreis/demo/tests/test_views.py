import importlib
import re
from datetime import timedelta

import pytest
from django.core.mail import EmailMessage
from django.test import Client
from django.urls import NoReverseMatch, clear_url_caches, reverse
from django.utils import formats, translation
from django.utils.timezone import localtime

from klantreis.accounts.models import Role
from klantreis.accounts.tests.factories import staff_user
from klantreis.core.clock import DemoClock
from klantreis.core.models import DemoClockOffset, OutboxMail
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.demo.services import MESSAGE_OFFSET_TOO_LARGE
from klantreis.messaging.models import Message

pytestmark = pytest.mark.django_db

STAFF_ROLES = [role for role in Role.values if role != Role.CUSTOMER]


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


def message(customer, channel, subject, clock, *, recipient=None, status="delivered", text="Tekst", **fields):
    row = Message.objects.create(
        idempotency_key=f"demo-{Message.objects.count()}",
        customer=customer,
        channel=channel,
        recipient=recipient if recipient is not None else str(customer.pk),
        language="nl",
        subject=subject,
        text=text,
        status=status,
        created_at=clock.now(),
        **fields,
    )
    clock.advance(timedelta(minutes=1))
    return row


def short_time(moment):
    """A time as the (Dutch) page shows it in a table."""
    with translation.override("nl"):
        return formats.date_format(localtime(moment), "SHORT_DATETIME_FORMAT")


def rows_of(page):
    """The messages table's rows, each as its cells' text."""
    table = page[page.index('id="messages"') :]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r'<tr class="outbox-message">(.*?)</tr>', table, re.S)
    ]


def test_the_outbox_lists_every_message_of_every_channel_newest_first(client, demo, fixed_clock):
    tenant = CustomerFactory(name="Fatima Yilmaz", email="fatima@example.nl", phone="+31612345678")
    send("Your sign-in link", "Open http://localhost/x", "fatima@example.nl", fixed_clock)
    message(tenant, "email", "We hebben uw melding ontvangen", fixed_clock, recipient="fatima@example.nl")
    message(
        tenant, "sms", "Morgen komt de monteur", fixed_clock, recipient="+31612345678", status="failed",
        last_error="provider unavailable", text="Herinnering:\nmorgen 10:00–12:00",
    )  # fmt: skip
    message(
        tenant, "whatsapp", "De monteur is onderweg", fixed_clock, recipient="+31612345678", status="sent"
    )
    message(tenant, "inapp", "Uw afspraak", fixed_clock)

    response = client.get(reverse("demo:outbox"))

    assert response.status_code == 200
    page = response.content.decode()
    # The mail as the mail server got it stays listed as before.
    assert page.index("Your sign-in link") < page.index('id="messages"')
    times = [short_time(m.created_at) for m in Message.objects.order_by("-pk")]
    assert rows_of(page) == [
        [times[0], shown("portal inbox"), "Fatima Yilmaz", "Uw afspraak", "Tekst", shown("delivered")],
        [times[1], "WhatsApp", "+31612345678", "De monteur is onderweg", "Tekst", shown("sent")],
        [
            times[2], shown("SMS"), "+31612345678", "Morgen komt de monteur",
            "Herinnering:morgen 10:00–12:00", shown("failed") + "provider unavailable",
        ],
        [
            times[3], shown("e-mail"), "fatima@example.nl", "We hebben uw melding ontvangen",
            "Tekst", shown("delivered"),
        ],
    ]  # fmt: skip


def test_the_messages_are_paged_and_the_filter_narrows_them(client, demo, fixed_clock):
    tenant = CustomerFactory(name="Fatima Yilmaz")
    neighbour = CustomerFactory(name="Jan Jansen")
    for number in range(27):
        message(tenant, "inapp", f"Bericht {number:02d}", fixed_clock)
    message(neighbour, "email", "Voor Jan", fixed_clock, recipient="jan@example.nl")

    first = client.get(reverse("demo:outbox")).content.decode()
    second = client.get(reverse("demo:outbox"), {"page": "2"}).content.decode()
    for_jan = client.get(reverse("demo:outbox"), {"to": "jan@"}).content.decode()
    by_name = client.get(reverse("demo:outbox"), {"to": "yilmaz", "page": "2"}).content.decode()
    nonsense = client.get(reverse("demo:outbox"), {"page": "<script>"})

    assert [row[3] for row in rows_of(first)] == ["Voor Jan"] + [f"Bericht {n:02d}" for n in range(26, 2, -1)]
    assert [row[3] for row in rows_of(second)] == ["Bericht 02", "Bericht 01", "Bericht 00"]
    assert 'href="?page=2#messages"' in first
    assert [row[3] for row in rows_of(for_jan)] == ["Voor Jan"]
    assert [row[3] for row in rows_of(by_name)] == ["Bericht 01", "Bericht 00"]
    assert 'href="?to=yilmaz&amp;page=1#messages"' in by_name
    assert nonsense.status_code == 200


def test_the_outbox_escapes_what_a_message_contains(client, demo, fixed_clock):
    tenant = CustomerFactory(name="<b>Fatima</b>")
    message(tenant, "inapp", "<script>alert(1)</script>", fixed_clock, text="<img src=x onerror=alert(2)>")

    page = client.get(reverse("demo:outbox")).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert "<b>Fatima</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_outbox_says_when_no_message_was_sent(client, demo):
    page = client.get(reverse("demo:outbox")).content.decode()

    assert shown("No messages sent yet.") in page


@pytest.mark.parametrize("role", [None, "customer", *STAFF_ROLES])
def test_the_outbox_stays_open_to_whoever_plays_the_tenant(client, demo, fixed_clock, role):
    # In the demo this page stands in for the tenant's mailbox and phone.
    message(CustomerFactory(), "sms", "Morgen komt de monteur", fixed_clock, recipient="+31612345678")
    if role == "customer":
        client.force_login(CustomerFactory().user)
    elif role is not None:
        client.force_login(staff_user(role))

    response = client.get(reverse("demo:outbox"))

    assert response.status_code == 200
    assert "Morgen komt de monteur" in response.content.decode()
    # Only staff get the way to the demo clock.
    assert (reverse("demo:clock") in response.content.decode()) == (role in STAFF_ROLES)


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
