from django.contrib.auth import views as auth_views
from django.urls import path

from klantreis.accounts import views

app_name = "accounts"
urlpatterns = [
    path(
        "staff-sign-in/",
        auth_views.LoginView.as_view(
            template_name="accounts/staff_sign_in.html", redirect_authenticated_user=True
        ),
        name="staff_sign_in",
    ),
    path("sign-out/", auth_views.LogoutView.as_view(), name="sign_out"),
    path("language/", views.language, name="language"),
]
