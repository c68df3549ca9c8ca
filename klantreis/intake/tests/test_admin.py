import html
import json
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from klantreis.accounts.models import User
from klantreis.accounts.tests.factories import UserFactory
from klantreis.core.models import Organisation
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.events.models import Event
from klantreis.intake.admin import tree_in_reading_order
from klantreis.intake.models import RepairRequest, TriageTree, VeraCode
from klantreis.intake.services import TRIAGE_DEFAULTS_DIR, request_create
from klantreis.intake.tests.factories import TriageTreeFactory, leak_definition

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user() -> User:
    return UserFactory(
        username="beheer", role=User.Role.ADMIN, is_staff=True, is_superuser=True, language="en"
    )


@pytest.fixture
def signed_in_admin(client: Any, admin_user: User) -> Any:
    client.force_login(admin_user)
    return client


@pytest.fixture
def tree(vera: None) -> TriageTree:
    return TriageTreeFactory()


def change_url(tree: TriageTree) -> str:
    return reverse("admin:intake_triagetree_change", args=[tree.pk])


def form_data(tree: TriageTree, definition: str, **overrides: Any) -> dict[str, Any]:
    return {
        "slug": tree.slug,
        "title_nl": tree.title_nl,
        "title_en": tree.title_en,
        "hint_nl": tree.hint_nl,
        "hint_en": tree.hint_en,
        "defect_type": tree.defect_type.pk,
        "position": tree.position,
        "active": "on" if tree.active else "",
        "definition": definition,
    } | overrides


def definition_errors(response: Any) -> list[str]:
    return list(response.context["adminform"].form.errors["definition"])


def test_the_change_page_shows_the_tree_as_indented_json(signed_in_admin, tree):
    response = signed_in_admin.get(change_url(tree))

    assert response.status_code == 200
    text = html.unescape(response.content.decode())
    assert json.dumps(leak_definition(), ensure_ascii=False, indent=2) in text


def test_a_tree_with_a_cycle_is_refused_with_the_path_and_not_saved(signed_in_admin, tree):
    definition = leak_definition()
    definition["questions"]["where"]["answers"][0] = {
        "key": "tap",
        "label": {"nl": "Kraan", "en": "Tap"},
        "next": "flooding",
    }

    response = signed_in_admin.post(change_url(tree), form_data(tree, json.dumps(definition)))

    assert response.status_code == 200
    assert definition_errors(response) == ["$.questions.flooding: the questions go round in a circle"]
    assert "$.questions.flooding: the questions go round in a circle" in response.content.decode()
    tree.refresh_from_db()
    assert tree.definition == leak_definition()


def test_every_problem_of_a_tree_is_shown_with_its_path(signed_in_admin, tree):
    definition = leak_definition()
    definition["questions"]["flooding"]["answers"][0] = {
        "key": "yes",
        "label": {"nl": "Ja", "en": "Yes"},
        "next": "x",
    }
    definition["outcomes"]["tap"]["specialism"] = "XYZ"

    response = signed_in_admin.post(
        change_url(tree), form_data(tree, json.dumps(definition), title_nl="Nieuwe titel")
    )

    assert response.status_code == 200
    assert definition_errors(response) == [
        "$.questions.flooding.answers[0].next: no question x",
        "$.outcomes.tap.specialism: unknown VERA specialism 'XYZ'",
    ]
    tree.refresh_from_db()
    assert (tree.title_nl, tree.definition) == ("Lekkage", leak_definition())


def test_broken_json_is_refused_with_where_it_breaks_and_the_text_is_kept(signed_in_admin, tree):
    broken = '{"start": "flooding",,\n "questions": {}}'

    response = signed_in_admin.post(change_url(tree), form_data(tree, broken))

    assert response.status_code == 200
    assert definition_errors(response) == [
        "$: this is not valid JSON: Expecting property name enclosed in double quotes (line 1, column 22)"
    ]
    assert broken in html.unescape(response.content.decode())
    tree.refresh_from_db()
    assert tree.definition == leak_definition()


def test_an_empty_definition_is_refused(signed_in_admin, tree):
    response = signed_in_admin.post(change_url(tree), form_data(tree, "  "))

    assert definition_errors(response) == ["This field is required."]
    tree.refresh_from_db()
    assert tree.definition == leak_definition()


def test_an_expired_vera_code_is_refused(signed_in_admin, tree):
    definition = leak_definition()
    definition["outcomes"]["tap"]["specialism"] = "ZAN"

    response = signed_in_admin.post(change_url(tree), form_data(tree, json.dumps(definition)))

    assert definition_errors(response) == ["$.outcomes.tap.specialism: unknown VERA specialism 'ZAN'"]


def test_script_in_a_tree_text_is_stored_as_text_and_shown_escaped(signed_in_admin, tree):
    definition = leak_definition()
    definition["questions"]["where"]["text"]["en"] = "<script>alert(1)</script>"

    response = signed_in_admin.post(change_url(tree), form_data(tree, json.dumps(definition)))

    assert response.status_code == 302
    tree.refresh_from_db()
    assert tree.definition["questions"]["where"]["text"]["en"] == "<script>alert(1)</script>"
    page = signed_in_admin.get(change_url(tree)).content.decode()
    assert "<script>alert(1)</script>" not in page


def test_a_valid_edit_is_saved(signed_in_admin, tree):
    definition = leak_definition()
    definition["outcomes"]["tap"]["urgency"] = "urgent"
    definition["outcomes"]["tap"]["minutes"] = 45

    response = signed_in_admin.post(
        change_url(tree), form_data(tree, json.dumps(definition), title_en="Leaks")
    )

    assert response.status_code == 302
    assert response.url == reverse("admin:intake_triagetree_changelist")
    tree.refresh_from_db()
    assert tree.title_en == "Leaks"
    assert tree.definition == definition
    assert tree.definition["outcomes"]["tap"] == {
        "urgency": "urgent",
        "reason": {"nl": "Een druppelende kraan.", "en": "A dripping tap."},
        "specialism": "LOA",
        "minutes": 45,
        "material": ["kraanleertje"],
        "defect_type": "DRP",
    }


@pytest.mark.parametrize("role", [User.Role.CUSTOMER, User.Role.AGENT, User.Role.DESIGNER])
def test_a_user_who_is_not_staff_is_sent_to_the_admin_sign_in(client, tree, role):
    client.force_login(UserFactory(role=role, is_staff=False))
    url = change_url(tree)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('admin:login')}?next={url}"


def test_anonymous_is_sent_to_the_admin_sign_in(client, tree):
    response = client.get(reverse("admin:intake_triagetree_changelist"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.fixture
def designer(client: Any) -> User:
    """A designer as the demo sets one up: staff, only allowed to view and change trees."""
    user = UserFactory(role=User.Role.DESIGNER, is_staff=True, language="en")
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="intake", codename__in=["view_triagetree", "change_triagetree"]
        )
    )
    client.force_login(user)
    return user


def test_a_designer_edits_a_tree(client, designer, tree):
    definition = leak_definition()
    definition["outcomes"]["ceiling"]["minutes"] = 120

    response = client.post(change_url(tree), form_data(tree, json.dumps(definition)))

    assert response.status_code == 302
    tree.refresh_from_db()
    assert tree.definition["outcomes"]["ceiling"]["minutes"] == 120


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:intake_triagetree_add",
        "admin:intake_repairrequest_changelist",
        "admin:intake_veracode_changelist",
        "admin:accounts_user_changelist",
        "admin:events_event_changelist",
    ],
)
def test_a_designer_may_not_open_anything_else(client, designer, tree, url_name):
    response = client.get(reverse(url_name))

    assert response.status_code == 403


def test_a_designer_may_not_delete_a_tree(client, designer, tree):
    response = client.post(reverse("admin:intake_triagetree_delete", args=[tree.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert TriageTree.objects.filter(pk=tree.pk).exists()


@pytest.fixture
def reported(tree: TriageTree, fixed_clock: Any) -> RepairRequest:
    customer = CustomerFactory()
    return request_create(
        actor=customer.user,
        customer=customer,
        home=customer.homes.get(),
        channel=RepairRequest.Channel.PORTAL,
        tree=tree,
        answers={"flooding": "no", "where": "tap"},
        defect_location_code="BAD",
        description="De kraan druppelt.",
    )


def test_every_admin_page_opens_for_an_administrator(signed_in_admin, reported):
    """A smoke test over the whole admin: list, add (where allowed) and change pages."""
    Organisation.objects.create(
        name="Woonstede", emergency_phone="030 123 4567", service_phone="030 123 4500"
    )
    opened = []
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        response = signed_in_admin.get(reverse("admin:{}_{}_changelist".format(*info)))
        assert response.status_code == 200, info
        response = signed_in_admin.get(reverse("admin:{}_{}_add".format(*info)))
        assert response.status_code == (200 if model_admin.has_add_permission(response.wsgi_request) else 403)
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            response = signed_in_admin.get(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
            assert response.status_code == 200, info
            opened.append(model._meta.label)
    assert {"intake.RepairRequest", "intake.TriageTree", "events.Event", "core.Organisation"} <= set(opened)


def test_a_request_is_shown_read_only_with_its_answers(signed_in_admin, reported):
    url = reverse("admin:intake_repairrequest_change", args=[reported.pk])

    response = signed_in_admin.get(url)
    refused = signed_in_admin.post(url, {"urgency": "emergency"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "<li>Stroomt er water dat u niet kunt stoppen? <strong>Nee</strong></li>" in page
    assert "kraanleertje" in page
    assert refused.status_code == 403
    reported.refresh_from_db()
    assert reported.urgency == "normal"


def test_requests_are_found_by_postcode_as_people_type_it(signed_in_admin, reported):
    postcode = reported.home.postcode
    typed = f"{postcode[:4]} {postcode[4:].lower()}"

    response = signed_in_admin.get(reverse("admin:intake_repairrequest_changelist"), {"q": typed})

    assert list(response.context["cl"].result_list) == [reported]


def test_events_cannot_be_changed_or_deleted(signed_in_admin, reported):
    event = Event.objects.get()
    change = reverse("admin:events_event_change", args=[event.pk])

    changed = signed_in_admin.post(change, {"activity": "forged"})
    deleted = signed_in_admin.post(reverse("admin:events_event_delete", args=[event.pk]), {"post": "yes"})

    assert (changed.status_code, deleted.status_code) == (403, 403)
    event.refresh_from_db()
    assert event.activity == "request.reported"


def test_vera_codes_are_read_only(signed_in_admin, vera):
    code = VeraCode.objects.get(kind=VeraCode.Kind.DEFECT_TYPE, code="LEK")

    response = signed_in_admin.post(
        reverse("admin:intake_veracode_change", args=[code.pk]), {"name": "Anders"}
    )

    assert response.status_code == 403
    code.refresh_from_db()
    assert code.name == "Lekt"


def reversed_keys(value: Any) -> Any:
    """The same data with every object's keys in reverse, as jsonb might hand it back."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


@pytest.mark.parametrize("path", sorted(TRIAGE_DEFAULTS_DIR.glob("*.json")), ids=lambda path: path.stem)
def test_the_editor_shows_a_tree_in_reading_order_however_it_was_stored(path):
    shipped = json.loads(path.read_text(encoding="utf-8"))["definition"]

    shown = tree_in_reading_order(reversed_keys(shipped))

    assert shown == shipped
    assert json.dumps(shown) == json.dumps(shipped)


def test_reading_order_leaves_a_broken_tree_alone():
    broken = {"questions": [1, 2], "start": {"a": 1}, "outcomes": "x", "extra": None}

    assert json.dumps(tree_in_reading_order(broken)) == json.dumps(
        {"start": {"a": 1}, "questions": [1, 2], "outcomes": "x", "extra": None}
    )
