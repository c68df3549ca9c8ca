import hashlib
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command

from klantreis.accounts import tokens
from klantreis.accounts.models import ApiToken, User
from klantreis.accounts.tests.factories import UserFactory
from klantreis.core.errors import ApplicationError

pytestmark = pytest.mark.django_db


def test_api_token_create_returns_the_key_once_and_stores_only_hash_and_prefix(fixed_clock):
    user = UserFactory(role=User.Role.AGENT)

    token, key = tokens.api_token_create(user=user, name="  housing system  ")

    assert key.startswith("kr_")
    assert len(key) == 46
    stored = ApiToken.objects.get()
    assert stored == token
    assert (stored.user, stored.name, stored.created_at) == (user, "housing system", fixed_clock.now())
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert stored.prefix == key[:8]
    assert key not in {stored.name, stored.key_hash, stored.prefix}
    assert (stored.last_used_at, stored.revoked_at) == (None, None)


def test_api_token_create_makes_a_different_key_every_time():
    user = UserFactory()

    keys = {tokens.api_token_create(user=user, name="one")[1] for _ in range(5)}

    assert len(keys) == 5


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("   ", str(tokens.MESSAGE_TOKEN_NAME_EMPTY)),
        ("n" * 101, tokens.MESSAGE_TOKEN_NAME_TOO_LONG % {"max": 100}),
    ],
)
def test_api_token_create_refuses_a_bad_name(name, message):
    user = UserFactory()

    with pytest.raises(ApplicationError) as raised:
        tokens.api_token_create(user=user, name=name)

    assert (str(raised.value), raised.value.field) == (message, "name")
    assert ApiToken.objects.count() == 0


def test_api_token_create_refuses_an_inactive_user():
    user = UserFactory(is_active=False)

    with pytest.raises(ApplicationError) as raised:
        tokens.api_token_create(user=user, name="sync")

    assert raised.value.message == tokens.MESSAGE_TOKEN_USER_INACTIVE
    assert ApiToken.objects.count() == 0


def test_api_token_authenticate_finds_the_user_and_notes_the_use(fixed_clock):
    user = UserFactory()
    token, key = tokens.api_token_create(user=user, name="sync")

    assert tokens.api_token_authenticate(key=key) == user

    token.refresh_from_db()
    assert token.last_used_at == fixed_clock.now()


def test_api_token_authenticate_writes_last_used_at_at_most_once_a_minute(fixed_clock):
    token, key = tokens.api_token_create(user=UserFactory(), name="sync")
    first_use = fixed_clock.now()
    tokens.api_token_authenticate(key=key)

    fixed_clock.advance(timedelta(seconds=59))
    tokens.api_token_authenticate(key=key)
    token.refresh_from_db()
    assert token.last_used_at == first_use

    fixed_clock.advance(timedelta(seconds=1))
    tokens.api_token_authenticate(key=key)
    token.refresh_from_db()
    assert token.last_used_at == first_use + timedelta(minutes=1)


@pytest.mark.parametrize(
    "wrong",
    [
        "",
        "kr_not-a-key",
        "x" * 10_000,
    ],
)
def test_api_token_authenticate_refuses_unknown_keys(wrong):
    tokens.api_token_create(user=UserFactory(), name="sync")

    assert tokens.api_token_authenticate(key=wrong) is None
    assert ApiToken.objects.get().last_used_at is None


def test_api_token_authenticate_refuses_a_key_that_differs_only_in_its_last_character():
    _, key = tokens.api_token_create(user=UserFactory(), name="sync")
    near_miss = key[:-1] + ("A" if key[-1] != "A" else "B")

    assert tokens.api_token_authenticate(key=near_miss) is None


def test_api_token_authenticate_refuses_a_revoked_token(fixed_clock):
    token, key = tokens.api_token_create(user=UserFactory(), name="sync")
    tokens.api_token_revoke(token=token)

    assert tokens.api_token_authenticate(key=key) is None
    token.refresh_from_db()
    assert token.last_used_at is None


def test_api_token_authenticate_refuses_an_inactive_user():
    user = UserFactory()
    _, key = tokens.api_token_create(user=user, name="sync")
    user.is_active = False
    user.save(update_fields=["is_active"])

    assert tokens.api_token_authenticate(key=key) is None


def test_api_token_revoke_keeps_the_first_moment_and_leaves_other_tokens_alone(fixed_clock):
    user = UserFactory()
    token, _ = tokens.api_token_create(user=user, name="old")
    other, other_key = tokens.api_token_create(user=user, name="new")
    revoked_at = fixed_clock.now()

    tokens.api_token_revoke(token=token)
    fixed_clock.advance(timedelta(hours=1))
    again = tokens.api_token_revoke(token=token)

    assert again.revoked_at == revoked_at
    token.refresh_from_db()
    assert token.revoked_at == revoked_at
    other.refresh_from_db()
    assert other.revoked_at is None
    assert tokens.api_token_authenticate(key=other_key) == user


def test_create_api_token_command_prints_a_working_key():
    user = UserFactory(username="sync-bot", role=User.Role.AGENT)
    out, err = io.StringIO(), io.StringIO()

    call_command("create_api_token", "sync-bot", "housing system", stdout=out, stderr=err)

    key = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.prefix) == (user, "housing system", key[:8])
    assert tokens.api_token_authenticate(key=key) == user
    assert key not in err.getvalue()
    assert token.prefix in err.getvalue()


def test_create_api_token_command_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("create_api_token", "nobody", "sync", stdout=io.StringIO(), stderr=io.StringIO())

    assert ApiToken.objects.count() == 0


def test_create_api_token_command_refuses_a_blank_name():
    UserFactory(username="sync-bot")

    with pytest.raises(CommandError, match=str(tokens.MESSAGE_TOKEN_NAME_EMPTY)):
        call_command("create_api_token", "sync-bot", " ", stdout=io.StringIO(), stderr=io.StringIO())

    assert ApiToken.objects.count() == 0
