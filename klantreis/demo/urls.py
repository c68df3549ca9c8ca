from django.urls import path

from klantreis.demo import views

app_name = "demo"
urlpatterns = [
    path("outbox/", views.outbox, name="outbox"),
    path("clock/", views.demo_clock, name="clock"),
]
