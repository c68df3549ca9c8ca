from django.urls import path

from klantreis.field import views

app_name = "field"
urlpatterns = [
    path("", views.day, name="day"),
    path("visits/<int:job_id>/", views.visit, name="visit"),
    path("visits/<int:job_id>/update/", views.visit_update, name="visit_update"),
    path("visits/<int:job_id>/follow-up/", views.follow_up, name="follow_up"),
    path("visits/<int:job_id>/photos/<int:photo_id>/", views.visit_photo, name="visit_photo"),
    path("requests/<str:reference>/photos/<int:photo_id>/", views.request_photo, name="request_photo"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service_worker"),
]
