from django.urls import path

from ketapath.clinics import views

app_name = "clinics"

urlpatterns = [
    path("admin/", views.admin_hub, name="admin"),
    path("admin/details/", views.details_edit, name="details_edit"),
    path("admin/hours/", views.hours_edit, name="hours_edit"),
    path("admin/closures/", views.closure_list, name="closures"),
    path("admin/closures/new/", views.closure_new, name="closure_new"),
    path(
        "admin/closures/<uuid:closure_id>/delete/",
        views.closure_delete_view,
        name="closure_delete",
    ),
    path("admin/rooms/new/", views.room_new, name="room_new"),
    path("admin/rooms/<uuid:room_id>/", views.room_edit, name="room_edit"),
    path("policy/", views.policy_view, name="policy"),
    path("policy/edit/", views.policy_edit, name="policy_edit"),
]
