from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class Home(models.Model):
    """A rentable unit (verhuurbare eenheid) with its address and location."""

    reference = models.CharField(_("unit reference"), max_length=32, unique=True)
    street = models.CharField(_("street"), max_length=200)
    house_number = models.PositiveIntegerField(_("house number"))
    house_letter = models.CharField(_("house letter"), max_length=1, blank=True)
    house_number_addition = models.CharField(_("addition"), max_length=8, blank=True)
    postcode = models.CharField(_("postcode"), max_length=6, help_text=_("Without a space: 3512AB."))
    city = models.CharField(_("city"), max_length=100)
    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))

    class Meta:
        ordering = ["postcode", "house_number", "house_letter", "house_number_addition"]
        verbose_name = _("home")
        verbose_name_plural = _("homes")
        constraints = [
            models.UniqueConstraint(
                fields=["postcode", "house_number", "house_letter", "house_number_addition"],
                name="home_address_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(postcode__regex=r"^[1-9][0-9]{3}[A-Z]{2}$"),
                name="home_postcode_format",
            ),
            models.CheckConstraint(
                condition=models.Q(latitude__gte=-90, latitude__lte=90)
                & models.Q(longitude__gte=-180, longitude__lte=180),
                name="home_coordinates_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.address_line}, {self.postcode_display} {self.city}"

    @property
    def house_number_full(self) -> str:
        suffix = self.house_letter + (f"-{self.house_number_addition}" if self.house_number_addition else "")
        return f"{self.house_number}{suffix}"

    @property
    def address_line(self) -> str:
        return f"{self.street} {self.house_number_full}"

    @property
    def postcode_display(self) -> str:
        return f"{self.postcode[:4]} {self.postcode[4:]}"


class Customer(models.Model):
    """A customer (tenant): contact data, preferences and consent."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("e-mail")
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")
        PHONE = "phone", _("phone call")
        LETTER = "letter", _("letter")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="customer")
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail address"), blank=True)
    phone = models.CharField(
        _("phone number"), max_length=20, blank=True, help_text=_("E.164: +31612345678.")
    )
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=16, choices=Channel.choices, default=Channel.EMAIL
    )
    consent_email = models.BooleanField(_("may be e-mailed"), default=True)
    consent_sms = models.BooleanField(_("may be texted"), default=False)
    consent_whatsapp = models.BooleanField(_("may be messaged on WhatsApp"), default=False)
    consent_updated_at = models.DateTimeField(_("consent last changed"), null=True, blank=True)
    assisted = models.BooleanField(
        _("needs assistance"),
        default=False,
        help_text=_("Low digital skills: offer a person, keep messages plain."),
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default="Europe/Amsterdam",
        help_text=_("Messages are timed in this zone: quiet hours, 'the evening before'."),
    )
    birth_year = models.PositiveSmallIntegerField(_("year of birth"), null=True, blank=True)
    homes = models.ManyToManyField(Home, through="Tenancy", related_name="customers")

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="customer_email_unique_ci"
            ),
            models.CheckConstraint(
                condition=models.Q(phone="") | models.Q(phone__regex=r"^\+[1-9][0-9]{7,14}$"),
                name="customer_phone_e164",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def language(self) -> str:
        return self.user.language


class Tenancy(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tenancies")
    home = models.ForeignKey(Home, on_delete=models.PROTECT, related_name="tenancies")
    start_date = models.DateField(_("start"))
    end_date = models.DateField(_("end"), null=True, blank=True)

    class Meta:
        ordering = ["-start_date"]
        verbose_name = _("tenancy")
        verbose_name_plural = _("tenancies")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
                name="tenancy_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} @ {self.home}"
