from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from klantreis.accounts.services import sign_in_link_create
from klantreis.customers.models import Customer


@task()
def customer_sign_in_link_send(customer_id: int, next_url: str = "") -> bool:
    """Make a one-time link and e-mail it. The secret is made here, in the
    worker, so it never sits in the task table."""
    customer = Customer.objects.select_related("user").filter(pk=customer_id).first()
    # The customer asked for this mail themselves: marketing consent does not apply.
    if customer is None or not customer.email:
        return False
    token = sign_in_link_create(user=customer.user, next_url=next_url)
    if token is None:
        return False
    url = settings.SITE_URL + reverse("portal:sign_in_link", kwargs={"token": token})
    with translation.override(customer.language):
        context = {
            "customer": customer,
            "url": url,
            "minutes": settings.KLANTREIS_SIGN_IN_LINK_MINUTES,
        }
        subject = render_to_string("customers/email/sign_in_link_subject.txt", context).strip()
        text = render_to_string("customers/email/sign_in_link.txt", context)
        html = render_to_string("customers/email/sign_in_link.html", context)
    message = EmailMultiAlternatives(subject, text, to=[customer.email])
    message.attach_alternative(html, "text/html")
    message.send()
    return True
