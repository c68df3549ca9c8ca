from django.urls import path

from klantreis.insights import views

app_name = "insights"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("cases/", views.cases, name="cases"),
    path("cases.csv", views.cases_csv, name="cases_csv"),
    path("breakdown.csv", views.breakdown_csv, name="breakdown_csv"),
    path("process/", views.process, name="process"),
    path("runs/", views.run_start, name="run_start"),
    path("runs/<int:run_id>/", views.run, name="run"),
    path("runs/<int:run_id>/file/", views.run_file, name="run_file"),
    path("runs/<int:run_id>/cases/", views.run_cases, name="run_cases"),
]
