"""Provider webhooks, mounted under /hooks/ (the addresses given to the providers)."""

from django.urls import path

from klantreis.messaging import views

app_name = "messaging"
urlpatterns = [
    path("sms/twilio/", views.twilio_status, name="twilio_status"),
    path("whatsapp/", views.whatsapp, name="whatsapp"),
]
