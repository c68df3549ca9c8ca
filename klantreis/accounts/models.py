from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CUSTOMER = "customer", _("customer")
    AGENT = "agent", _("customer-service agent")
    PLANNER = "planner", _("planner")
    TECHNICIAN = "technician", _("technician")
    SUBCONTRACTOR = "subcontractor", _("subcontractor")
    DESIGNER = "designer", _("service designer")
    # Reads everything (requests, board, tasks, the insights), changes nothing.
    MANAGER = "manager", _("manager")
    ADMIN = "admin", _("administrator")


class User(AbstractUser):
    """A person who signs in: a customer (by one-time link) or a staff member."""

    Role = Role

    class Language(models.TextChoices):
        DUTCH = "nl", _("Dutch")
        ENGLISH = "en", _("English")

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.DUTCH)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_valid"),
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="user_email_unique_ci",
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_customer(self) -> bool:
        return self.role == self.Role.CUSTOMER


class SignInLink(models.Model):
    """A one-time sign-in link sent to a customer.

    Only a hash of the secret is stored; the link itself is signed, expires,
    and is claimed with a conditional update so it works once, even when two
    clicks race.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sign_in_links")
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    next_url = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("sign-in link")
        verbose_name_plural = _("sign-in links")

    def __str__(self) -> str:
        return f"{self.user} {self.created_at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A bearer token for the JSON API; acts with its user's role and scope."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
