"""The journey editor: who may use it, the list of journeys, saving a new
version, and every way a save is refused without losing the text or
touching the running version."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from klantreis.accounts.models import Role
from klantreis.accounts.tests.factories import UserFactory
from klantreis.customers.tests.factories import CustomerFactory
from klantreis.intake.tests.factories import TriageTreeFactory
from klantreis.journeys.models import JourneyDefinition, JourneyInstance
from klantreis.journeys.services import DEFAULTS_DIR
from klantreis.workspace.forms import MESSAGE_CHANGE_NOTE_TOO_LONG, MESSAGE_DEFINITION_REQUIRED
from klantreis.workspace.tests.journey_cases import journey_run, journeys_install, reported

pytestmark = pytest.mark.django_db

ALL_ROLES = list(Role.values)
DESIGNERS = {"designer", "admin"}
JOURNEYS = reverse("workspace:journeys")
EDIT = reverse("workspace:journey_edit", kwargs={"key": "repair"})
SHIPPED = (DEFAULTS_DIR / "repair.yaml").read_text()


@pytest.fixture
def shipped(db, fixed_clock):
    (definition,) = journeys_install()
    return definition


@pytest.fixture
def designer(client):
    user = UserFactory(role="designer", language="en", first_name="Dana", last_name="de Vries")
    client.force_login(user)
    return user


def user_with(role, language="en"):
    if role == "customer":
        return CustomerFactory(user__language=language).user
    return UserFactory(role=role, language=language)


def version_url(version, key="repair"):
    return reverse("workspace:journey_version", kwargs={"key": key, "version": version})


def versions():
    return list(JourneyDefinition.objects.order_by("key", "version").values_list("key", "version", "active"))


def textarea(content):
    """The definition's textarea: its attributes and the text in it."""
    match = re.search(r'<textarea name="source"([^>]*)>\n?(.*?)</textarea>', content, re.S)
    assert match is not None
    return match.group(1), match.group(2)


def problems(content):
    match = re.search(r'<ul class="errorlist" id="id_source_error">(.*?)</ul>', content, re.S)
    assert match is not None
    return re.findall(r"<li>(.*?)</li>", match.group(1), re.S)


def save(client, source, note="", key="repair"):
    return client.post(
        reverse("workspace:journey_edit", kwargs={"key": key}), {"source": source, "note": note}
    )


def edited(old, new, source=SHIPPED):
    assert old in source
    return source.replace(old, new, 1)


# Access


@pytest.mark.parametrize("role", ALL_ROLES)
def test_the_editor_pages_by_role(client, shipped, role):
    client.force_login(user_with(role))

    responses = [client.get(JOURNEYS), client.get(EDIT), client.get(version_url(1))]

    expected = 200 if role in DESIGNERS else 403
    assert [r.status_code for r in responses] == [expected] * 3


@pytest.mark.parametrize("role", ALL_ROLES)
def test_only_designers_and_admins_save(client, shipped, role):
    client.force_login(user_with(role))

    response = save(client, edited("sentiment: 0", "sentiment: 1"))

    if role in DESIGNERS:
        assert response.status_code == 302
        assert versions() == [("repair", 1, False), ("repair", 2, True)]
    else:
        assert response.status_code == 403
        assert versions() == [("repair", 1, True)]


def test_anonymous_visitors_are_sent_to_sign_in(client, shipped):
    responses = [
        client.get(JOURNEYS),
        client.get(EDIT),
        client.get(version_url(1)),
        save(client, edited("sentiment: 0", "sentiment: 1")),
    ]

    assert [r.status_code for r in responses] == [302] * 4
    assert all(r.url.startswith(reverse("portal:sign_in") + "?next=") for r in responses)
    assert versions() == [("repair", 1, True)]


def test_saving_needs_the_csrf_token(shipped):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with("designer"))

    response = save(client, edited("sentiment: 0", "sentiment: 1"))

    assert response.status_code == 403
    assert versions() == [("repair", 1, True)]


def test_the_editor_is_in_the_navigation_of_designers_and_admins(client, shipped):
    for role in ALL_ROLES:
        client.force_login(user_with(role))
        home = reverse("portal:home") if role == "customer" else reverse("workspace:home")
        content = client.get(home).content.decode()
        assert (f'href="{JOURNEYS}"' in content) == (role in DESIGNERS), role


@pytest.mark.parametrize(
    "url",
    [
        reverse("workspace:journey_edit", kwargs={"key": "nothing"}),
        version_url(2),
        version_url(1, key="nothing"),
        "/desk/journeys/repair/99999999999999999999/",
    ],
)
def test_unknown_journeys_and_versions_are_404(client, shipped, designer, url):
    assert client.get(url).status_code == 404


# The list and the editor


def test_the_list_shows_each_journey_with_its_versions_and_running_cases(client, shipped, designer, vera):
    tree = TriageTreeFactory()
    reported(tree)
    reported(tree)
    journey_run()
    save(client, edited("sentiment: 0", "sentiment: 1"), note="warmer")
    reported(tree)
    journey_run()

    content = client.get(JOURNEYS).content.decode()

    assert f'<a href="{EDIT}">Repair request</a> <code>repair</code>' in content
    assert "version 2" in content
    assert "Dana de Vries" in content
    assert "version 2: 1 case" in content
    assert "version 1: 2 cases" in content


def test_the_editor_shows_the_active_text_and_the_version_history(client, shipped, designer):
    content = client.get(EDIT).content.decode()

    attributes, text = textarea(content)
    assert text == escape(SHIPPED)
    assert 'class="code-editor"' in attributes
    assert 'spellcheck="false"' in attributes
    assert "aria-invalid" not in attributes
    assert "Version 1 is active." in content
    assert f'<a href="{version_url(1)}">version 1</a>' in content
    assert "shipped with klantreis" in content


# Saving


def test_a_good_save_becomes_the_next_version_and_running_cases_keep_theirs(client, shipped, designer, vera):
    reported(TriageTreeFactory())
    journey_run()
    changed = edited("at: appointment.start - 1d @18:00", "at: appointment.start - 1d @19:00")

    response = save(client, changed, note="reminder at 19:00")

    assert response.status_code == 302
    assert response.url == EDIT
    new = JourneyDefinition.objects.get(key="repair", active=True)
    assert (new.version, new.source, new.note, new.created_by) == (2, changed, "reminder at 19:00", designer)
    assert versions() == [("repair", 1, False), ("repair", 2, True)]
    assert JourneyInstance.objects.get().definition == shipped
    page = client.get(EDIT).content.decode()
    assert "Version 2 is now active; running journeys keep their version." in page
    assert textarea(page)[1] == escape(changed)
    assert "reminder at 19:00" in page


def test_line_breaks_from_the_browser_are_stored_as_newlines(client, shipped, designer):
    response = save(client, edited("sentiment: 0", "sentiment: 1").replace("\n", "\r\n"))

    assert response.status_code == 302
    assert "\r" not in JourneyDefinition.objects.get(version=2).source


def test_invalid_yaml_is_refused_and_the_text_shown_exactly_as_typed(client, shipped, designer):
    broken = edited("  - id: received\n", "  - id: received\n     name: [oops\n") + "  <b>ü</b>  \n\n"

    response = save(client, broken, note="a note")

    assert response.status_code == 422
    content = response.content.decode()
    attributes, text = textarea(content)
    assert text == escape(broken)
    assert 'aria-invalid="true"' in attributes
    assert 'aria-describedby="id_source_error"' in attributes
    assert problems(content) == [
        "line 29, the whole definition: not valid YAML: mapping values are not allowed here"
    ]
    assert 'value="a note"' in content
    assert "The journey was not saved; the running version stays in use." in content
    assert versions() == [("repair", 1, True)]


def test_schema_errors_name_line_and_field(client, shipped, designer):
    start = "  - id: confirmation\n    name: {nl: Afspraak bevestigd"
    wrong = edited(
        start + ", en: Appointment confirmed}\n    layer: digital", start + "}\n    layer: sideways"
    )

    response = save(client, wrong)

    assert response.status_code == 422
    lines = wrong.splitlines()
    name, layer = (
        lines.index("    name: {nl: Afspraak bevestigd}") + 1,
        lines.index("    layer: sideways") + 1,
    )
    assert problems(response.content.decode()) == [
        f"line {layer}, touchpoints[1].layer: &#x27;sideways&#x27; is not one of "
        "[&#x27;digital&#x27;, &#x27;human&#x27;, &#x27;physical&#x27;]",
        f"line {name}, touchpoints[1].name: &#x27;en&#x27; is a required property",
    ]
    assert versions() == [("repair", 1, True)]


def test_meaning_errors_name_line_and_field(client, shipped, designer):
    wrong = edited("at: visit.completed + 2h", "at: finished + 2h")

    response = save(client, wrong)

    assert response.status_code == 422
    line = wrong.splitlines().index("    at: finished + 2h") + 1
    (problem,) = problems(response.content.decode())
    assert problem.startswith(f"line {line}, touchpoints[8].at: unknown anchor &#x27;finished&#x27;")
    assert versions() == [("repair", 1, True)]


def test_a_definition_over_200_kb_gets_the_parsers_error_and_is_kept(client, shipped, designer):
    huge = SHIPPED + "# " + "x" * 210_000 + "\n"

    response = save(client, huge)

    assert response.status_code == 422
    content = response.content.decode()
    assert problems(content) == ["the whole definition: the definition is larger than 200 kB"]
    assert textarea(content)[1] == escape(huge)
    assert versions() == [("repair", 1, True)]


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:pathlib.Path ['{marker}']",
        "!!python/name:os.system",
    ],
)
def test_yaml_tags_that_would_build_python_objects_are_refused(client, shipped, designer, tmp_path, tag):
    marker = tmp_path / "pwned"
    hostile = edited("description: >", f"description: {tag.format(marker=marker)}\nx: >")

    response = save(client, hostile)

    assert response.status_code == 422
    (problem,) = problems(response.content.decode())
    line = hostile.splitlines().index(f"description: {tag.format(marker=marker)}") + 1
    assert problem.startswith(
        f"line {line}, the whole definition: not valid YAML: could not determine a constructor"
    )
    assert not marker.exists()
    assert versions() == [("repair", 1, True)]


def test_a_definition_of_another_journey_is_refused(client, shipped, designer):
    other = edited("key: repair", "key: complaint")

    response = save(client, other)

    assert response.status_code == 422
    assert problems(response.content.decode()) == ["This definition is for journey complaint, not repair."]
    assert versions() == [("repair", 1, True)]


def test_the_key_mismatch_is_told_in_the_designers_language(client, shipped):
    client.force_login(user_with("designer", language="nl"))

    response = save(client, edited("key: repair", "key: complaint"))

    with translation.override("nl"):
        expected = translation.gettext("This definition is for journey %(found)s, not %(expected)s.") % {
            "found": "complaint",
            "expected": "repair",
        }
        heading = translation.gettext("The journey was not saved; the running version stays in use.")
    content = response.content.decode()
    assert problems(content) == [escape(expected)]
    assert escape(heading) in content


def test_an_empty_definition_is_refused(client, shipped, designer):
    response = save(client, "")

    assert response.status_code == 422
    assert problems(response.content.decode()) == [escape(str(MESSAGE_DEFINITION_REQUIRED))]
    assert versions() == [("repair", 1, True)]


def test_a_change_note_over_300_characters_is_refused_and_the_text_kept(client, shipped, designer):
    changed = edited("sentiment: 0", "sentiment: 1")

    response = save(client, changed, note="n" * 301)

    assert response.status_code == 422
    content = response.content.decode()
    assert escape(str(MESSAGE_CHANGE_NOTE_TOO_LONG) % {"limit_value": 300, "show_value": 301}) in content
    assert textarea(content)[1] == escape(changed)
    assert "aria-invalid" not in textarea(content)[0]
    assert re.search(r'<input type="text" name="note"[^>]*aria-invalid="true"', content)
    assert versions() == [("repair", 1, True)]


def test_the_running_version_keeps_running_after_a_refused_save(client, shipped, designer, vera, fixed_clock):
    tree = TriageTreeFactory()
    reported(tree)
    journey_run()

    save(client, "key: repair\ntouchpoints: []\n")
    reported(tree)
    journey_run()

    assert versions() == [("repair", 1, True)]
    assert list(JourneyInstance.objects.values_list("definition__version", flat=True)) == [1, 1]


# Earlier versions


def test_an_earlier_version_is_shown_read_only(client, shipped, designer):
    save(client, edited("sentiment: 0", "sentiment: 1"), note="warmer")

    response = client.get(version_url(1))

    content = response.content.decode()
    assert response.status_code == 200
    view = '<pre class="code-view" tabindex="0" aria-label="Definition (YAML)">'
    assert f"{view}<code>{escape(SHIPPED)}</code></pre>" in content
    assert "An earlier version, shown read-only." in content
    assert "<textarea" not in content
    assert 'method="post"' not in content.split("<main", 1)[1]
    assert f'href="{EDIT}?from=1"' in content
    assert client.post(version_url(1)).status_code == 405
    assert versions() == [("repair", 1, False), ("repair", 2, True)]


def test_editing_can_start_from_an_earlier_version(client, shipped, designer):
    save(client, edited("sentiment: 0", "sentiment: 1"))

    content = client.get(EDIT, {"from": "1"}).content.decode()
    unknown = client.get(EDIT, {"from": "7"}).content.decode()
    nonsense = client.get(EDIT, {"from": "-1<script>"}).content.decode()

    assert textarea(content)[1] == escape(SHIPPED)
    assert "The text below is version 1." in content
    assert textarea(unknown)[1] == escape(edited("sentiment: 0", "sentiment: 1"))
    assert textarea(nonsense)[1] == escape(edited("sentiment: 0", "sentiment: 1"))
