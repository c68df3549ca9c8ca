import re
from datetime import timedelta

import pytest
from django.urls import reverse

from klantreis.accounts import services
from klantreis.accounts.models import SignInLink
from klantreis.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def link_from(message) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"http://\S+/portal/sign-in/link/(\S+)/", body)
    assert match, body
    return reverse("portal:sign_in_link", kwargs={"token": match.group(1)})


def test_tenant_gets_a_link_by_mail_and_signs_in_with_it_once(
    client, smtp_server, run_tasks, fixed_clock, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(email="Anna@Example.nl", user__language="nl")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:sign_in"), {"email": "anna@example.nl"})
    assert response.status_code == 302
    assert smtp_server.messages == []  # nothing leaves before the worker runs

    run_tasks()

    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "Anna@Example.nl"
    assert message["Subject"] == "Uw aanmeldlink"
    url = link_from(message)

    # Opening the link only shows a button (mail scanners must not use it up).
    assert client.get(url).status_code == 200
    assert "_auth_user_id" not in client.session
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
    assert client.session["_auth_user_id"] == str(customer.user.pk)

    client.logout()
    reused = client.post(url)
    assert reused.status_code == 410
    assert "al gebruikt" in reused.content.decode()
    assert "_auth_user_id" not in client.session


def test_unknown_address_gets_the_same_answer_and_no_mail(
    client, smtp_server, run_tasks, django_capture_on_commit_callbacks
):
    CustomerFactory(email="anna@example.nl")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:sign_in"), {"email": "nobody@example.nl"}, follow=True)
    run_tasks()

    assert response.status_code == 200
    assert "nobody@example.nl" in response.content.decode()
    assert smtp_server.messages == []
    assert SignInLink.objects.count() == 0


@pytest.mark.parametrize(
    ("email", "error"),
    [
        ("", "Vul uw e-mailadres in."),
        ("not-an-address", "Dit is geen e-mailadres."),
        ("a" * 250 + "@example.nl", "Een e-mailadres heeft maximaal 254 tekens."),
        ("<script>alert(1)</script>@x.nl", "Dit is geen e-mailadres."),
    ],
)
def test_bad_addresses_get_a_clear_error_and_keep_what_was_typed(client, email, error):
    response = client.post(reverse("portal:sign_in"), {"email": email})

    body = response.content.decode()
    assert response.status_code == 200
    assert error in body
    assert "<script>alert(1)</script>" not in body
    assert SignInLink.objects.count() == 0


def test_an_expired_link_is_refused_with_a_friendly_page(client, fixed_clock, settings):
    customer = CustomerFactory()
    token = services.sign_in_link_create(user=customer.user)
    fixed_clock.advance(timedelta(minutes=settings.KLANTREIS_SIGN_IN_LINK_MINUTES, seconds=1))

    response = client.post(reverse("portal:sign_in_link", kwargs={"token": token}))

    assert response.status_code == 410
    assert "verlopen" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_tampered_link_is_refused(client, fixed_clock):
    customer = CustomerFactory()
    token = services.sign_in_link_create(user=customer.user)

    response = client.get(reverse("portal:sign_in_link", kwargs={"token": token[:-2] + "xx"}))

    assert response.status_code == 410
    assert "niet geldig" in response.content.decode()


def test_a_link_of_a_deactivated_user_is_refused(client, fixed_clock):
    customer = CustomerFactory()
    token = services.sign_in_link_create(user=customer.user)
    customer.user.is_active = False
    customer.user.save()

    response = client.post(reverse("portal:sign_in_link", kwargs={"token": token}))

    assert response.status_code == 410
    assert "_auth_user_id" not in client.session


def test_links_are_rate_limited_per_person(fixed_clock):
    customer = CustomerFactory()

    tokens = [
        services.sign_in_link_create(user=customer.user) for _ in range(services.MAX_LINKS_PER_HOUR + 1)
    ]

    assert tokens[-1] is None
    assert all(tokens[:-1])
    fixed_clock.advance(timedelta(hours=1, seconds=1))
    assert services.sign_in_link_create(user=customer.user) is not None


def test_the_link_remembers_where_the_tenant_was_going(
    client, smtp_server, run_tasks, fixed_clock, django_capture_on_commit_callbacks
):
    CustomerFactory(email="anna@example.nl")
    target = reverse("portal:report")

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:sign_in"), {"email": "anna@example.nl", "next": target})
    run_tasks()
    response = client.post(link_from(smtp_server.messages[0]))

    assert response["Location"] == target


def test_an_outside_next_url_is_ignored(
    client, smtp_server, run_tasks, fixed_clock, django_capture_on_commit_callbacks
):
    CustomerFactory(email="anna@example.nl")

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:sign_in"), {"email": "anna@example.nl", "next": "https://evil.example/"})
    run_tasks()
    response = client.post(link_from(smtp_server.messages[0]))

    assert response["Location"] == reverse("portal:home")


def test_the_mail_speaks_the_customers_language(
    client, smtp_server, run_tasks, django_capture_on_commit_callbacks
):
    CustomerFactory(email="john@example.com", user__language="en")

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:sign_in"), {"email": "john@example.com"})
    run_tasks()

    assert smtp_server.messages[0]["Subject"] == "Your sign-in link"
