"""Entry by the signed links in messages (/portal/go/<token>/) and the pages
for links that no longer work: the entry link, the one-time sign-in link."""

from datetime import timedelta

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import translation

from klantreis.accounts import services as accounts
from klantreis.accounts.models import Role, User
from klantreis.accounts.services import (
    ENTRY_SALT,
    MESSAGE_ENTRY_EXPIRED,
    MESSAGE_ENTRY_INVALID,
    MESSAGE_LINK_EXPIRED,
    MESSAGE_LINK_USED,
    EntryTarget,
    entry_link_token,
)
from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.intake.services import request_create
from klantreis.intake.tests.factories import TriageTreeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree(vera):
    return TriageTreeFactory()


def report_for(customer, tree):
    return request_create(
        actor=customer.user,
        customer=customer,
        home=customer.homes.get(),
        channel="portal",
        tree=tree,
        answers={"flooding": "no", "where": "ceiling"},
        defect_location_code="BAD",
        description="Water door het plafond",
    )


@pytest.fixture
def tenant():
    return CustomerFactory(user__language="en")


@pytest.fixture
def repair(tenant, tree, fixed_clock):
    return report_for(tenant, tree)


def go(reference, user, target=EntryTarget.REQUEST):
    return reverse(
        "portal:entry",
        kwargs={"token": entry_link_token(user_id=user.pk, reference=reference, target=target)},
    )


def signed_in(client):
    return client.session.get("_auth_user_id")


def text_in(language, message):
    with translation.override(language):
        return str(message)


# A good link


def test_a_valid_link_signs_the_tenant_in_and_opens_the_request(client, tenant, repair):
    response = client.get(go(repair.reference, tenant.user))

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:request_detail", kwargs={"reference": repair.reference})
    assert signed_in(client) == str(tenant.user.pk)
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "strict-origin"
    assert client.get(response["Location"]).status_code == 200


def test_the_rebook_link_opens_the_appointment_page(client, tenant, repair):
    response = client.get(go(repair.reference, tenant.user, EntryTarget.APPOINTMENT))

    assert response["Location"] == reverse("portal:appointment", kwargs={"reference": repair.reference})
    assert signed_in(client) == str(tenant.user.pk)


def test_a_link_can_be_opened_again_until_it_expires(client, tenant, repair, fixed_clock):
    url = go(repair.reference, tenant.user)
    assert client.get(url).status_code == 302
    client.logout()
    fixed_clock.advance(timedelta(days=60) - timedelta(minutes=1))

    again = client.get(url)

    assert again.status_code == 302
    assert signed_in(client) == str(tenant.user.pk)


def test_someone_else_signed_in_is_signed_out_first(client, tenant, repair, tree):
    other = CustomerFactory()
    client.force_login(other.user)

    response = client.get(go(repair.reference, tenant.user))

    assert response.status_code == 302
    assert signed_in(client) == str(tenant.user.pk)


def test_a_staff_member_signed_in_is_signed_out_first(client, tenant, repair):
    client.force_login(UserFactory(role=User.Role.AGENT))

    client.get(go(repair.reference, tenant.user))

    assert signed_in(client) == str(tenant.user.pk)


def test_the_same_tenant_signed_in_stays_signed_in(client, tenant, repair):
    client.force_login(tenant.user)
    session_key = client.session.session_key

    client.get(go(repair.reference, tenant.user))

    assert signed_in(client) == str(tenant.user.pk)
    assert client.session.session_key == session_key


def test_the_lifetime_is_a_setting(client, tenant, repair, fixed_clock, settings):
    settings.KLANTREIS_ENTRY_LINK_DAYS = 2
    url = go(repair.reference, tenant.user)
    fixed_clock.advance(timedelta(days=2))

    assert client.get(url).status_code == 410


# Links that do not work


def assert_refused(response, status, message, language="nl"):
    html = response.content.decode()
    assert response.status_code == status
    assert response["Content-Language"] == language
    assert text_in(language, message) in html
    assert f'action="{reverse("portal:sign_in")}"' in html  # offers a new sign-in link by e-mail
    assert 'name="email"' in html
    assert "no-store" in response["Cache-Control"]


def test_a_tampered_link_is_refused_with_a_friendly_page(client, tenant, repair):
    token = entry_link_token(user_id=tenant.user.pk, reference=repair.reference, target="request")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    response = client.get(reverse("portal:entry", kwargs={"token": tampered}))

    assert_refused(response, 400, MESSAGE_ENTRY_INVALID)
    assert signed_in(client) is None


@pytest.mark.parametrize("token", ["x", "a" * 3000, "%3Cscript%3E", "eyJ1IjoxfQ:abc:def"])
def test_nonsense_links_are_refused(client, token, fixed_clock):
    response = client.get(reverse("portal:entry", kwargs={"token": token}))

    assert_refused(response, 400, MESSAGE_ENTRY_INVALID)


def test_a_payload_signed_with_another_salt_is_refused(client, tenant, repair, fixed_clock):
    token = signing.dumps({"u": tenant.user.pk, "r": repair.reference, "t": "request", "i": 0}, salt="other")

    response = client.get(reverse("portal:entry", kwargs={"token": token}))

    assert_refused(response, 400, MESSAGE_ENTRY_INVALID)


def test_a_well_signed_payload_of_the_wrong_shape_is_refused(client, tenant, repair, fixed_clock):
    for payload in (["x"], {"u": "1", "r": repair.reference, "t": "request", "i": 0}, {"u": tenant.user.pk}):
        token = signing.dumps(payload, salt=ENTRY_SALT)
        assert client.get(reverse("portal:entry", kwargs={"token": token})).status_code == 400
    assert signed_in(client) is None


def test_an_expired_link_gets_410_in_the_tenants_language_and_keeps_the_way_back(
    client, tenant, repair, fixed_clock
):
    url = go(repair.reference, tenant.user, EntryTarget.APPOINTMENT)
    # An hour more: the clock reads Amsterdam wall time, and summer time starts in between.
    fixed_clock.advance(timedelta(days=60, hours=1))

    response = client.get(url)

    assert_refused(response, 410, MESSAGE_ENTRY_EXPIRED, language="en")
    assert '<html lang="en"' in response.content.decode()
    # The new sign-in link leads to the same page.
    target = reverse("portal:appointment", kwargs={"reference": repair.reference})
    assert f'name="next" value="{target}"' in response.content.decode()
    assert signed_in(client) is None


def test_a_link_for_another_tenants_request_is_refused(client, tenant, repair, tree):
    other = CustomerFactory()
    theirs = report_for(other, tree)

    response = client.get(go(theirs.reference, tenant.user))

    assert_refused(response, 400, MESSAGE_ENTRY_INVALID)
    assert signed_in(client) is None


def test_a_link_for_an_unknown_reference_is_refused(client, tenant, repair):
    response = client.get(go("M26-999999", tenant.user))

    assert_refused(response, 400, MESSAGE_ENTRY_INVALID)


@pytest.mark.parametrize("role", [role for role in Role.values if role != Role.CUSTOMER])
def test_a_link_with_a_staff_users_id_signs_nobody_in(client, repair, role):
    staff = UserFactory(role=role)

    response = client.get(go(repair.reference, staff))

    assert_refused(response, 400, MESSAGE_ENTRY_INVALID)
    assert signed_in(client) is None


def test_a_link_of_a_deactivated_tenant_signs_nobody_in(client, tenant, repair):
    url = go(repair.reference, tenant.user)
    tenant.user.is_active = False
    tenant.user.save()

    assert_refused(client.get(url), 400, MESSAGE_ENTRY_INVALID)
    assert signed_in(client) is None


def test_a_refused_link_keeps_someone_signed_in_as_they_were(client, tenant, repair):
    other = CustomerFactory()
    client.force_login(other.user)

    response = client.get(reverse("portal:entry", kwargs={"token": "broken"}))

    assert response.status_code == 400
    assert signed_in(client) == str(other.user.pk)


def test_only_get(client, tenant, repair):
    assert client.post(go(repair.reference, tenant.user)).status_code == 405


# The one-time sign-in link (accounts.SignInLink)


def test_an_expired_one_time_link_gets_the_friendly_410(client, tenant, fixed_clock, settings):
    token = accounts.sign_in_link_create(user=tenant.user)
    url = reverse("portal:sign_in_link", kwargs={"token": token})
    fixed_clock.advance(timedelta(minutes=settings.KLANTREIS_SIGN_IN_LINK_MINUTES))

    for response in (client.get(url), client.post(url)):
        assert response.status_code == 410
        html = response.content.decode()
        assert text_in("nl", MESSAGE_LINK_EXPIRED) in html or "verlopen" in html
        assert f'href="{reverse("portal:sign_in")}"' in html
    assert signed_in(client) is None


def test_a_reused_one_time_link_gets_the_friendly_410(client, tenant, fixed_clock):
    token = accounts.sign_in_link_create(user=tenant.user)
    url = reverse("portal:sign_in_link", kwargs={"token": token})
    assert client.post(url).status_code == 302
    client.logout()

    for response in (client.get(url), client.post(url)):
        assert response.status_code == 410
        html = response.content.decode()
        assert text_in("nl", MESSAGE_LINK_USED) in html or "al gebruikt" in html
        assert f'href="{reverse("portal:sign_in")}"' in html
    assert signed_in(client) is None


def test_a_tampered_one_time_link_gets_the_friendly_page(client, tenant, fixed_clock):
    token = accounts.sign_in_link_create(user=tenant.user)

    response = client.post(reverse("portal:sign_in_link", kwargs={"token": token[:-2] + "xx"}))

    assert response.status_code == 410
    assert f'href="{reverse("portal:sign_in")}"' in response.content.decode()
    assert signed_in(client) is None
