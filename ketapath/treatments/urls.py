"""Session charting pages: the workflow pages (views) and the note, its PDF, signing and
addenda (note_views)."""

from ketapath.treatments import note_views, views

app_name = "treatments"

urlpatterns = [*views.urlpatterns, *note_views.urlpatterns]
