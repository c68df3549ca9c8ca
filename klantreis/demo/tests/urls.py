"""The project's URLs with the demo pages mounted, as in demo mode."""

from django.urls import include, path

urlpatterns = [
    path("", include("klantreis.config.urls")),
    path("demo/", include("klantreis.demo.urls")),
]
