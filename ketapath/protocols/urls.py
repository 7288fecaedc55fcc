from django.urls import path

from ketapath.protocols import views

app_name = "protocols"

urlpatterns = [
    path("protocols/", views.protocol_list, name="list"),
    path("protocols/new/", views.protocol_edit, name="new"),
    path("protocols/<uuid:template_id>/", views.protocol_detail, name="detail"),
    path("protocols/<uuid:template_id>/edit/", views.protocol_edit, name="edit"),
    path("protocols/<uuid:template_id>/approve/", views.protocol_approve, name="approve"),
]
