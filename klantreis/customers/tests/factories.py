from datetime import date

import factory

from klantreis.accounts.models import User
from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.models import Customer, Home, Tenancy


class HomeFactory(factory.django.DjangoModelFactory[Home]):
    class Meta:
        model = Home

    reference = factory.Sequence(lambda n: f"VHE-{n:06d}")
    street = "Oudegracht"
    house_number = factory.Sequence(lambda n: n + 1)
    postcode = "3511AB"
    city = "Utrecht"
    latitude = 52.0907
    longitude = 5.1214


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    """A tenant with a user account and a current tenancy of one home."""

    class Meta:
        model = Customer
        skip_postgeneration_save = True

    user = factory.SubFactory(
        UserFactory, role=User.Role.CUSTOMER, username=factory.Sequence(lambda n: f"tenant{n}")
    )
    name = factory.Faker("name", locale="nl_NL")
    email = factory.Sequence(lambda n: f"huurder{n}@example.nl")
    phone = factory.Sequence(lambda n: f"+3161{n:07d}")

    @factory.post_generation
    def home(self, create: bool, extracted: Home | None, **kwargs: object) -> None:
        if not create:
            return
        Tenancy.objects.create(customer=self, home=extracted or HomeFactory(), start_date=date(2020, 1, 1))
