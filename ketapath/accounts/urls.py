from django.urls import path

from ketapath.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("switch-clinic/", views.switch_clinic, name="switch_clinic"),
]
