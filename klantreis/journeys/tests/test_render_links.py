"""The `link` and `rebook_link` placeholders are signed entry links."""

from zoneinfo import ZoneInfo

import pytest

from klantreis.accounts.services import entry_link_read
from klantreis.core.models import Organisation
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.journeys.render import template_values

pytestmark = pytest.mark.django_db
PREFIX = "http://localhost:8000/portal/go/"


def values(customer, reference):
    return template_values(
        customer=customer,
        attributes={"request": reference} if reference else {},
        anchors={},
        context={},
        zone=ZoneInfo("Europe/Amsterdam"),
        language="nl",
        organisation=Organisation.current(),
    )


def test_the_links_sign_the_customer_in_to_their_request_and_its_appointment(fixed_clock, settings):
    settings.SITE_URL = "http://localhost:8000"
    customer = CustomerFactory()

    found = values(customer, "M26-000007")

    for name, target in (("link", "request"), ("rebook_link", "appointment")):
        assert found[name].startswith(PREFIX)
        link = entry_link_read(token=found[name].removeprefix(PREFIX).removesuffix("/"))
        assert (link.user, link.reference, link.target) == (customer.user, "M26-000007", target)


def test_without_a_request_or_customer_the_links_go_to_the_portal_home(fixed_clock, settings):
    settings.SITE_URL = "http://localhost:8000"

    assert values(CustomerFactory(), "")["link"] == "http://localhost:8000/portal/"
    assert values(None, "M26-000007")["rebook_link"] == "http://localhost:8000/portal/"
