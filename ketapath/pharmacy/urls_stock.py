"""Stock pages under /pharmacy/ (namespace "pharmacy")."""

from django.urls import URLPattern, path

from ketapath.pharmacy import views_stock

urlpatterns: list[URLPattern] = [
    path("", views_stock.stock, name="stock"),
    path("receive/", views_stock.receive, name="receive"),
    path("waste/", views_stock.waste, name="waste"),
    path("formulations/", views_stock.formulations, name="formulations"),
    path("vials/<uuid:vial_id>/", views_stock.vial_detail, name="vial"),
    path("vials/<uuid:vial_id>/waste/", views_stock.vial_waste, name="vial_waste"),
    path("vials/<uuid:vial_id>/quarantine/", views_stock.vial_quarantine, name="vial_quarantine"),
    path("entries/<uuid:entry_id>/reverse/", views_stock.entry_reverse, name="entry_reverse"),
]
