"""Patient-link pages, mounted at /p/ (no login: the token and date of birth stand in)."""

from django.urls import path

from ketapath.portal import views

app_name = "portal"

urlpatterns = [
    path("<str:token>/", views.link_start, name="open"),
    path("<str:token>/answer/", views.link_answer, name="answer"),
    path("<str:token>/done/", views.link_done, name="done"),
]
