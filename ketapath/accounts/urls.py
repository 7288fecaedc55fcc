from django.urls import path

from ketapath.accounts import on_call_views, shift_views, staff_views, views

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
    path("on-call/", on_call_views.on_call, name="on_call"),
    path("shifts/", shift_views.shift_list, name="shifts"),
    path("shifts/new/", shift_views.shift_new, name="shift_new"),
    path("shifts/week/", shift_views.shift_week, name="shift_week"),
    path("shifts/staff/<uuid:user_id>/", shift_views.shift_staff, name="shift_staff"),
    path("shifts/<uuid:shift_id>/remove/", shift_views.shift_remove_view, name="shift_remove"),
    path("shifts/exceptions/", shift_views.shift_exception_list, name="shift_exceptions"),
    path("shifts/exceptions/new/", shift_views.shift_exception_new, name="shift_exception_new"),
    path(
        "shifts/exceptions/<uuid:exception_id>/remove/",
        shift_views.shift_exception_remove_view,
        name="shift_exception_remove",
    ),
]
