"""Pages of counts, investigations, losses and returns (namespace "pharmacy")."""

from django.urls import URLPattern, path

from ketapath.pharmacy import views_counts as views

urlpatterns: list[URLPattern] = [
    path("counts/", views.count_list, name="counts"),
    path("counts/new/", views.count_new, name="count_new"),
    path("counts/<uuid:count_id>/", views.count_detail, name="count_detail"),
    path("investigations/", views.investigation_list, name="investigations"),
    path(
        "investigations/<uuid:investigation_id>/",
        views.investigation_detail,
        name="investigation_detail",
    ),
    path("losses/", views.loss_list, name="losses"),
    path("losses/new/", views.loss_new, name="loss_new"),
    path("losses/<uuid:report_id>/", views.loss_detail, name="loss_detail"),
    path("losses/<uuid:report_id>/notice/", views.loss_notice, name="loss_notice"),
    path("losses/<uuid:report_id>/form-106/", views.loss_form_106, name="loss_form_106"),
    path("returns/new/", views.return_new, name="return_new"),
]
