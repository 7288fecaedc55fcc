from django.contrib import admin

from ketapath.patients.models import ConsentDocument


@admin.register(ConsentDocument)
class ConsentDocumentAdmin(admin.ModelAdmin):
    """Consent forms are reference documents; patient records are edited in the app's pages,
    where every read and write is audited."""

    list_display = ("title", "kind", "version", "effective_from", "organization")
    list_filter = ("kind", "organization")
