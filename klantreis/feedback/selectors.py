import hashlib

from klantreis.feedback.models import Survey

# Longer than any token we hand out (43 characters); longer input is not
# hashed at all.
TOKEN_MAX_LENGTH = 128


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def survey_get_by_token(*, token: str) -> Survey | None:
    """The survey a link's token belongs to, answered or not, expired or not.

    Found by the token's hash, so no secret is compared character by
    character and the response time says nothing about a guessed token.
    """
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return None
    return Survey.objects.select_related("customer__user").filter(token_hash=token_hash(token)).first()


def survey_keys_for_case(*, case_id: str) -> set[str]:
    """The send keys of the case's surveys: the message with that key carried the link."""
    return set(Survey.objects.filter(case_id=case_id).values_list("key", flat=True))
