from django.urls import path

from ketapath.accounts import staff_views, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("switch-clinic/", views.switch_clinic, name="switch_clinic"),
    path("staff/", staff_views.staff_list, name="staff_list"),
    path("staff/new/", staff_views.staff_new, name="staff_new"),
    path("staff/<uuid:user_id>/", staff_views.staff_edit, name="staff_edit"),
    path("staff/<uuid:user_id>/deactivate/", staff_views.staff_deactivate, name="staff_deactivate"),
    path("staff/<uuid:user_id>/reactivate/", staff_views.staff_reactivate, name="staff_reactivate"),
]
