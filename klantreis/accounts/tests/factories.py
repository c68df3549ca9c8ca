import factory

from klantreis.accounts.models import User


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name", locale="nl_NL")
    last_name = factory.Faker("last_name", locale="nl_NL")
    role = User.Role.AGENT
    language = "nl"
    password = factory.django.Password("correct horse battery staple")


def staff_user(role: str, **kwargs: object) -> User:
    return UserFactory(role=role, username=kwargs.pop("username", f"{role}-{User.objects.count()}"), **kwargs)
