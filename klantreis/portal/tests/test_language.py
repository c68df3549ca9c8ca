import pytest
from django.urls import reverse

from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_a_signed_in_tenant_switching_to_english_is_remembered(client):
    customer = CustomerFactory(user__language="nl")
    client.force_login(customer.user)

    response = client.post(reverse("accounts:language"), {"language": "en", "next": reverse("portal:home")})

    customer.user.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
    assert customer.user.language == "en"
    assert "My requests" in client.get(reverse("portal:home")).content.decode()


def test_a_visitor_switches_with_a_cookie_only(client):
    response = client.post(
        reverse("accounts:language"), {"language": "en", "next": reverse("portal:sign_in")}
    )

    assert response.cookies["django_language"].value == "en"
    assert "Send me a sign-in link" in client.get(reverse("portal:sign_in")).content.decode()


def test_the_signed_in_persons_own_language_wins_over_the_browser(client):
    client.force_login(UserFactory(role="agent", language="en"))

    body = client.get(reverse("workspace:home"), headers={"Accept-Language": "nl"}).content.decode()

    assert "Requests" in body


@pytest.mark.parametrize("language", ["de", "", "<script>"])
def test_an_unknown_language_is_refused_and_nothing_changes(client, language):
    user = UserFactory(role="agent", language="nl")
    client.force_login(user)

    response = client.post(reverse("accounts:language"), {"language": language})

    user.refresh_from_db()
    assert response.status_code == 400
    assert user.language == "nl"
    assert "<script>" not in response.content.decode()


def test_an_outside_next_address_is_ignored(client):
    response = client.post(reverse("accounts:language"), {"language": "en", "next": "https://evil.example/"})

    assert response["Location"] == "/"


def test_get_is_not_allowed(client):
    assert client.get(reverse("accounts:language")).status_code == 405
