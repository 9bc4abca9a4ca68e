"""Peewee models of the SQL store, built per database.

A factory instead of module-level models: tests (and tools such as a copy between backends)
open SQLite and PostgreSQL stores in one process, and peewee binds a model class to one
database. The tables themselves are created by `migrations.py`, never from these classes, so
the models only need to name the current columns.

Tables:
- `registries`: one row per registry header. `data` is the JSON header
  (`registry_to_data(with_profiles=False)`), the source of truth; the other columns are copies
  for queries.
- `profiles`: one row per profile, keyed by (registry, slug). `data` is the JSON profile
  (`profile_to_data`); `tags` ("\\n"-delimited) and `search_text` (casefolded slug, name and
  description) exist only for SQL filtering.
- `revisions`: history and change feed in one table; `id` is the global change id.
- `schema_version`: one row per applied migration.
"""

from __future__ import annotations

from dataclasses import dataclass

import peewee as pw


@dataclass(frozen=True)
class Models:
    """The model classes bound to one database."""

    registry: type[pw.Model]
    profile: type[pw.Model]
    revision: type[pw.Model]


def build_models(db: pw.Database) -> Models:
    """Model classes bound to `db` (each call gives new classes)."""

    class Base(pw.Model):
        class Meta:
            database = db

    class RegistryRow(Base):
        slug = pw.TextField(primary_key=True)
        display_name = pw.TextField(default="")
        description = pw.TextField(default="")
        default_profile_slug = pw.TextField(default="")
        version = pw.BigIntegerField()
        created_ms = pw.BigIntegerField(default=0)
        updated_ms = pw.BigIntegerField(default=0)
        data = pw.TextField()

        class Meta:
            table_name = "registries"

    class ProfileRow(Base):
        registry = pw.TextField()
        slug = pw.TextField()
        display_name = pw.TextField(default="")
        description = pw.TextField(default="")
        version = pw.BigIntegerField()
        tags = pw.TextField(default="")
        search_text = pw.TextField(default="")
        created_ms = pw.BigIntegerField(default=0)
        updated_ms = pw.BigIntegerField(default=0)
        data = pw.TextField()

        class Meta:
            table_name = "profiles"
            primary_key = pw.CompositeKey("registry", "slug")

    class RevisionRow(Base):
        id = pw.BigAutoField()
        registry = pw.TextField()
        profile = pw.TextField(default="")
        version = pw.BigIntegerField()
        action = pw.TextField()  # create | update | delete: what the write did to the row
        operation = pw.TextField()  # the label shown in history (restore, import, ...)
        actor = pw.TextField(default="")
        at_ms = pw.BigIntegerField()
        snapshot = pw.TextField(null=True)

        class Meta:
            table_name = "revisions"

    return Models(RegistryRow, ProfileRow, RevisionRow)
