from django.urls import path

from klantreis.feedback import views

app_name = "feedback"
urlpatterns = [
    path("<str:token>/", views.answer, name="answer"),
    path("<str:token>/thanks/", views.thanks, name="thanks"),
]
