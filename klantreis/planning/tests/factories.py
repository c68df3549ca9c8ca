import factory

from klantreis.planning.models import Firm, Technician


class FirmFactory(factory.django.DjangoModelFactory[Firm]):
    class Meta:
        model = Firm

    name = factory.Sequence(lambda n: f"Firma {n}")
    kind = Firm.Kind.SUBCONTRACTOR


class TechnicianFactory(factory.django.DjangoModelFactory[Technician]):
    class Meta:
        model = Technician
        skip_postgeneration_save = True

    firm = factory.SubFactory(FirmFactory)
    name = factory.Faker("name", locale="nl_NL")
    start_latitude = 52.09
    start_longitude = 5.12

    @factory.post_generation
    def specialisms(self, create: bool, extracted: list[object] | None, **kwargs: object) -> None:
        if create and extracted:
            self.specialisms.set(extracted)
