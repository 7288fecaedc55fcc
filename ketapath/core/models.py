"""Shared model base: a UUID public identifier and created/updated times."""

import uuid

from django.db import models


class BaseModel(models.Model):
    """Every table's base: the primary key is a UUID, so sequential ids never leak."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
