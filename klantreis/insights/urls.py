from django.urls import URLPattern, path  # noqa: F401 - views are added as they land

app_name = "insights"
urlpatterns: list[URLPattern] = []
