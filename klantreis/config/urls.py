from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from klantreis.config.api import api
from klantreis.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accounts/", include("klantreis.accounts.urls")),
    path("portal/", include("klantreis.portal.urls")),
    path("survey/", include("klantreis.feedback.urls")),
    path("desk/", include("klantreis.workspace.urls")),
    path("insights/", include("klantreis.insights.urls")),
    path("field/", include("klantreis.field.urls")),
    path("hooks/", include("klantreis.messaging.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("health/", core_views.health, name="health"),
]

if settings.DEMO:
    urlpatterns += [path("demo/", include("klantreis.demo.urls"))]
