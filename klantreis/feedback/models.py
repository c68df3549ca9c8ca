from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils.translation import gettext_lazy as _

from klantreis.accounts.models import User
from klantreis.customers.models import Customer

COMMENT_MAX = 2000


class Survey(models.Model):
    """One question of a survey sent to a customer inside a message.

    A send may ask several kinds together on one page (CSAT, NPS and CES
    after the repair): one row per kind, sharing the send's `key` and link
    token, answered all at once by one conditional update, so "one answer per
    send" holds for every row of it. `position` is the order of the questions
    on the page; the send's open comment is kept on its first row.

    The link carries a token; only its SHA-256 hash is stored. `key` is the
    idempotency key of the send that carries the link, so sending the same
    message again finds the same survey and the same link.
    """

    class Kind(models.TextChoices):
        CSAT = "csat", _("customer satisfaction (1 to 5)")
        NPS = "nps", _("net promoter score (0 to 10)")
        CES = "ces", _("customer effort score (1 to 7)")
        MOMENT = "moment", _("how was this moment (1 to 5)")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.CSAT)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    case_id = models.CharField(_("case"), max_length=64, db_index=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="surveys", verbose_name=_("customer")
    )
    key = models.CharField(_("key"), max_length=80)
    token_hash = models.CharField(max_length=64)
    language = models.CharField(_("language"), max_length=2, choices=User.Language.choices)
    touchpoint = models.CharField(_("touchpoint"), max_length=40, blank=True)
    # What the touchpoint is called, per language ({"nl": …, "en": …}): a
    # "moment" question names the moment it asks about.
    topic = models.JSONField(_("topic"), default=dict, blank=True)
    created_at = models.DateTimeField(_("sent at"))
    expires_at = models.DateTimeField(_("open until"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    score = models.SmallIntegerField(_("score"), null=True, blank=True)
    comment = models.TextField(_("comment"), max_length=COMMENT_MAX, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        indexes = [models.Index(fields=["kind", "answered_at"], name="survey_kind_answered_idx")]
        constraints = [
            models.UniqueConstraint(fields=["key", "kind"], name="survey_one_kind_per_send"),
            models.UniqueConstraint(fields=["token_hash", "kind"], name="survey_token_kind_unique"),
            models.UniqueConstraint(fields=["key", "position"], name="survey_position_per_send"),
            models.CheckConstraint(
                condition=models.Q(kind__in=["csat", "nps", "ces", "moment"]), name="survey_kind_valid"
            ),
            models.CheckConstraint(condition=~models.Q(key=""), name="survey_key_set"),
            models.CheckConstraint(condition=~models.Q(case_id=""), name="survey_case_set"),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("created_at")), name="survey_expires_after_sent"
            ),
            # An answer is a score (the comment is optional); no score without an answer.
            models.CheckConstraint(
                condition=models.Q(answered_at__isnull=True, score__isnull=True, comment="")
                | models.Q(answered_at__isnull=False, score__isnull=False),
                name="survey_answer_complete",
            ),
            # The send's one comment lives on its first question.
            models.CheckConstraint(
                condition=models.Q(position=0) | models.Q(comment=""), name="survey_comment_on_first"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind__in=["csat", "moment"])
                | models.Q(score__isnull=True)
                | models.Q(score__gte=1, score__lte=5),
                name="survey_csat_score_range",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="nps")
                | models.Q(score__isnull=True)
                | models.Q(score__gte=0, score__lte=10),
                name="survey_nps_score_range",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="ces")
                | models.Q(score__isnull=True)
                | models.Q(score__gte=1, score__lte=7),
                name="survey_ces_score_range",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("comment"), COMMENT_MAX), name="survey_comment_length"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.case_id}"

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None
