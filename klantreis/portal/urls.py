from django.urls import path

from klantreis.portal import contact, entry, views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-in/sent/", views.sign_in_sent, name="sign_in_sent"),
    path("sign-in/link/<str:token>/", views.sign_in_link, name="sign_in_link"),
    path("report/", views.report, name="report"),
    path("requests/<str:reference>/", views.request_detail, name="request_detail"),
    path("requests/<str:reference>/appointment/", views.appointment, name="appointment"),
    path(
        "requests/<str:reference>/appointment/change/",
        views.appointment_change,
        name="appointment_reschedule",
    ),
    path(
        "requests/<str:reference>/appointment/cancel/",
        views.appointment_cancel_confirm,
        name="appointment_cancel",
    ),
    path("requests/<str:reference>/eta/", views.request_eta, name="request_eta"),
    path("requests/<str:reference>/photos/<int:photo_id>/", views.request_photo, name="request_photo"),
    path("go/<str:token>/", entry.entry, name="entry"),
    path("requests/<str:reference>/information/", contact.information_add, name="information_add"),
    path("requests/<str:reference>/message/", contact.desk_message, name="desk_message"),
]
