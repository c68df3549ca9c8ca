"""Factories for intake. `leak_tree()` is a small, valid triage tree that
tests use instead of the shipped defaults, so they keep their meaning when
the defaults are edited."""

from typing import Any

import factory

from klantreis.intake.models import TriageTree, VeraCode


def leak_definition() -> dict[str, Any]:
    return {
        "start": "flooding",
        "questions": {
            "flooding": {
                "text": {
                    "nl": "Stroomt er water dat u niet kunt stoppen?",
                    "en": "Is water flowing that you cannot stop?",
                },
                "answers": [
                    {"key": "yes", "label": {"nl": "Ja", "en": "Yes"}, "outcome": "flood"},
                    {"key": "no", "label": {"nl": "Nee", "en": "No"}, "next": "where"},
                ],
            },
            "where": {
                "text": {"nl": "Waar lekt het?", "en": "Where is it leaking?"},
                "answers": [
                    {"key": "tap", "label": {"nl": "Kraan", "en": "Tap"}, "outcome": "tap"},
                    {"key": "ceiling", "label": {"nl": "Plafond", "en": "Ceiling"}, "outcome": "ceiling"},
                ],
            },
        },
        "outcomes": {
            "flood": {
                "urgency": "emergency",
                "reason": {"nl": "Water dat niet te stoppen is.", "en": "Water that cannot be stopped."},
                "specialism": "LOO",
                "minutes": 60,
            },
            "tap": {
                "urgency": "normal",
                "reason": {"nl": "Een druppelende kraan.", "en": "A dripping tap."},
                "specialism": "LOA",
                "minutes": 30,
                "material": ["kraanleertje"],
                "defect_type": "DRP",
            },
            "ceiling": {
                "urgency": "urgent",
                "reason": {"nl": "Lekkage door het plafond.", "en": "Leak through the ceiling."},
                "specialism": "LOO",
                "minutes": 90,
            },
        },
    }


class TriageTreeFactory(factory.django.DjangoModelFactory[TriageTree]):
    """Needs the VERA codes loaded (the `vera` fixture)."""

    class Meta:
        model = TriageTree
        django_get_or_create = ("slug",)

    slug = "test-leak"
    title_nl = "Lekkage"
    title_en = "Leak"
    defect_type = factory.LazyFunction(
        lambda: VeraCode.objects.get(kind=VeraCode.Kind.DEFECT_TYPE, code="LEK")
    )
    definition = factory.LazyFunction(leak_definition)
