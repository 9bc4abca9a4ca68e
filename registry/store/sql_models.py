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
  (`profile_to_data`); `tags` ("\\n"-delimited), `tags_folded` (the same, casefolded),
  `search_text` (casefolded slug, name and description) and `sort_name` (see
  `domain/paging.py`) exist only for SQL filtering and sorting.
- `revisions`: history and change feed in one table; `id` is the global change id.
- `schema_version`: one row per applied migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import peewee as pw

M = TypeVar("M", bound=pw.Model)


# The columns, declared once at module level so type checkers know them; `build_models` binds
# a subclass of each to one database (peewee does not inherit `table_name`, so it is set there).


class RegistryRow(pw.Model):
    slug = pw.TextField(primary_key=True)
    display_name = pw.TextField(default="")
    description = pw.TextField(default="")
    default_profile_slug = pw.TextField(default="")
    version = pw.BigIntegerField()
    created_ms = pw.BigIntegerField(default=0)
    updated_ms = pw.BigIntegerField(default=0)
    data = pw.TextField()


class ProfileRow(pw.Model):
    registry = pw.TextField()
    slug = pw.TextField()
    display_name = pw.TextField(default="")
    description = pw.TextField(default="")
    version = pw.BigIntegerField()
    tags = pw.TextField(default="")
    search_text = pw.TextField(default="")
    sort_name = pw.TextField(default="")
    tags_folded = pw.TextField(default="")
    stack_refs = pw.TextField(default="")
    content_hash = pw.TextField(default="")
    input_hash = pw.TextField(default="")
    created_ms = pw.BigIntegerField(default=0)
    updated_ms = pw.BigIntegerField(default=0)
    data = pw.TextField()

    class Meta:
        primary_key = pw.CompositeKey("registry", "slug")


class RevisionRow(pw.Model):
    id = pw.BigAutoField()
    registry = pw.TextField()
    profile = pw.TextField(default="")
    version = pw.BigIntegerField()
    action = pw.TextField()  # create | update | delete: what the write did to the row
    operation = pw.TextField()  # the label shown in history (restore, import, ...)
    actor = pw.TextField(default="")
    at_ms = pw.BigIntegerField()
    snapshot = pw.TextField(null=True)


class SchemaVersionRow(pw.Model):  # bound by `migrations.py`, the only code that reads it
    version = pw.IntegerField(primary_key=True)
    name = pw.TextField()
    applied_at_ms = pw.BigIntegerField()


@dataclass(frozen=True)
class Models:
    """The model classes bound to one database."""

    registry: type[RegistryRow]
    profile: type[ProfileRow]
    revision: type[RevisionRow]


def bind_model(model: type[M], db: pw.Database, table: str) -> type[M]:
    """A new subclass of `model` bound to `db`, on table `table`."""
    meta = type("Meta", (), {"database": db, "table_name": table})
    return type(model.__name__, (model,), {"Meta": meta, "__module__": __name__})


def build_models(db: pw.Database) -> Models:
    """Model classes bound to `db` (each call gives new classes)."""
    return Models(
        bind_model(RegistryRow, db, "registries"),
        bind_model(ProfileRow, db, "profiles"),
        bind_model(RevisionRow, db, "revisions"),
    )
