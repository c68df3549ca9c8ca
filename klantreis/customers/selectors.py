import re

from django.db.models import Q, QuerySet

from klantreis.customers.models import Customer, Home

POSTCODE = re.compile(r"^\s*([1-9][0-9]{3})\s*([A-Za-z]{2})\s*$")


def postcode_normalise(value: str) -> str | None:
    match = POSTCODE.match(value or "")
    return f"{match.group(1)}{match.group(2).upper()}" if match else None


def phone_normalise(value: str) -> str | None:
    """Dutch ways of writing a number → E.164 (+31...)."""
    digits = re.sub(r"[\s\-().]", "", value or "")
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0"):
        digits = "+31" + digits[1:]
    return digits if re.fullmatch(r"\+[1-9][0-9]{7,14}", digits) else None


def customer_get_by_email(*, email: str) -> Customer | None:
    email = email.strip()
    if not email:
        return None
    return Customer.objects.select_related("user").filter(email__iexact=email, user__is_active=True).first()


def home_search(*, postcode: str = "", house_number: int | None = None, phone: str = "") -> QuerySet[Home]:
    """Homes matching a postcode (+ house number) or a tenant's phone number."""
    homes = Home.objects.prefetch_related("tenancies__customer")
    query = Q()
    normalised = postcode_normalise(postcode) if postcode else None
    if normalised:
        query &= Q(postcode=normalised)
        if house_number is not None:
            query &= Q(house_number=house_number)
    number = phone_normalise(phone) if phone else None
    if number:
        query &= Q(tenancies__customer__phone=number, tenancies__end_date__isnull=True)
    if not query:
        return homes.none()
    return homes.filter(query).distinct()


def customer_homes(*, customer: Customer) -> QuerySet[Home]:
    return Home.objects.filter(tenancies__customer=customer, tenancies__end_date__isnull=True).distinct()


def customer_list_for_home(*, home: Home) -> QuerySet[Customer]:
    return Customer.objects.filter(tenancies__home=home, tenancies__end_date__isnull=True).distinct()
