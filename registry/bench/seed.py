"""The bench's data: the seed plan, generated profiles, the seeded store, and the bulk
import document whose `import --dry-run` is timed.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

SMALL_REGISTRIES = 10


@dataclass(frozen=True)
class SeedPlan:
    """Registry slug -> profile count. Names carry the nominal size (quick mode shrinks it)."""

    small: int = 100
    large: int = 1_000
    huge: int = 10_000
    small_registries: int = SMALL_REGISTRIES

    def registries(self) -> dict[str, int]:
        out = {f"bench-100-{i:02d}": self.small for i in range(self.small_registries)}
        out["bench-1000"] = self.large
        out["bench-10000"] = self.huge
        return out


FULL_SEED = SeedPlan()
QUICK_SEED = SeedPlan(small=20, large=100, huge=300, small_registries=2)


def profile_data(registry: str, i: int) -> dict[str, Any]:
    """A realistic profile: prompt, tools, middlewares with config, step settings, policy,
    starter suggestions and an extension no codec knows (kept as data)."""
    topic = ("inventory", "billing", "support", "research", "travel")[i % 5]
    return {
        "slug": profile_slug(i),
        "display_name": f"{topic.title()} assistant {i}",
        "description": f"Helps the {topic} team of {registry} with everyday questions ({i}).",
        "runtime": {
            "system_prompt": (
                f"You are the {topic} assistant number {i}. Answer briefly, cite the tool you "
                "used, ask one clarifying question when the request is ambiguous, and never "
                "invent figures. Prefer tables for lists of more than three items. " * 2
            ).strip(),
            "tools": ["search", "calculator", f"{topic}_lookup"],
            "middlewares": [
                {"name": "agentmode", "id": "primary", "config": {"default_mode": "plan"}},
                {
                    "name": "sqlite",
                    "id": "db",
                    "config": {"dsn": f"file:{topic}.db?mode=ro", "max_rows": 50 + i % 50},
                },
            ],
            "step_settings_patch": {
                "ai-chat": {"ai-engine": "large-model-5", "ai-temperature": 0.2 + (i % 5) / 10}
            },
        },
        "policy": {
            "allow_overrides": True,
            "allowed_override_keys": ["system_prompt", "tools", "step_settings_patch"],
        },
        "metadata": {"tags": [topic, f"tier-{i % 3}"]},
        "extensions": {
            "webchat.starter_suggestions@v1": {
                "items": [
                    f"What changed in {topic} this week?",
                    "Summarize the open issues",
                    "Draft a reply to the last message",
                ]
            },
            "acme.ui_hints@v1": {"accent": "#335577", "compact": i % 2 == 0, "order": i},
        },
    }


def profile_slug(i: int) -> str:
    return f"p{i:05d}"


def seed_store(url: str, plan: SeedPlan) -> dict[str, Any]:
    """Create the bench registries in one transaction (existing `bench-*` registries are
    replaced). Every profile goes through the service's validation and middleware-config
    projection; rows and their revisions are then bulk-inserted (`profile_row` is public for
    this), which keeps 11,000 profiles to seconds instead of ~36,000 single statements."""
    from registry.domain.metadata import now_ms
    from registry.domain.model import Metadata, Registry, profile_from_data
    from registry.domain.ports import WriteOptions
    from registry.domain.service import RegistryService
    from registry.store import open_store
    from registry.store.sql_store import profile_row

    started = time.perf_counter()
    store = open_store(url)
    if not hasattr(store, "models"):
        store.close()
        raise click.ClickException("the benchmark needs a SQL store (sqlite:/// or postgresql://)")
    try:
        service = RegistryService(store)
        opts = WriteOptions(actor="bench", operation="bench-seed")
        models = store.models
        with store.atomic():
            for reg in store.list_registries():
                if reg.slug.startswith("bench-"):
                    store.delete_registry(reg.slug, opts)
            for slug, count in plan.registries().items():
                header = Registry(
                    slug=slug,
                    display_name=f"Bench {slug}",
                    description=f"{count} generated profiles",
                    default_profile_slug=profile_slug(0),
                )
                store.create_registry(service.prepare_registry_header(header), opts)
                rows, revisions = [], []
                for i in range(count):
                    profile = service.prepare_profile(profile_from_data(profile_data(slug, i)))
                    at = now_ms()
                    profile.metadata = Metadata(
                        version=1,
                        created_at_ms=at,
                        updated_at_ms=at,
                        created_by="bench",
                        updated_by="bench",
                        tags=profile.metadata.tags,
                    )
                    row = profile_row(slug, profile)
                    rows.append(row)
                    revisions.append(
                        {
                            "registry": slug,
                            "profile": row["slug"],
                            "version": 1,
                            "action": "create",
                            "operation": opts.operation,
                            "actor": opts.actor,
                            "at_ms": at,
                            "snapshot": row["data"],
                        }
                    )
                for start in range(0, count, 500):
                    models.profile.insert_many(rows[start : start + 500]).execute()
                    models.revision.insert_many(revisions[start : start + 500]).execute()
            seed_stack(service)
        db = database_version(store)
    finally:
        store.close()
    return {
        "registries": plan.registries(),
        "profiles": sum(plan.registries().values()),
        "seconds": round(time.perf_counter() - started, 2),
        "database": db,
    }


STACK_REGISTRY = "bench-stack"
STACK_DEPTH = 5


def stack_slug(level: int) -> str:
    return f"layer-{level}"


def seed_stack(service: Any) -> None:
    """`bench-stack`: a chain of `STACK_DEPTH` realistic profiles, each stacked on the one
    below (layer-1 the base, layer-5 the leaf), written through the service."""
    from registry.domain.model import ProfileRef, Registry, profile_from_data

    service.create_registry(Registry(slug=STACK_REGISTRY, display_name="Bench stack"))
    for level in range(1, STACK_DEPTH + 1):
        data = profile_data(STACK_REGISTRY, level)
        data["slug"] = stack_slug(level)
        profile = profile_from_data(data)
        if level > 1:
            profile.stack = [ProfileRef(stack_slug(level - 1))]
        service.create_profile(STACK_REGISTRY, profile, actor="bench")


IMPORT_PLAN_PROFILES = 20_000
QUICK_IMPORT_PLAN_PROFILES = 500


def import_document(count: int) -> str:
    """A bundle of one registry with `count` compact profiles (about 240 bytes and 17 YAML
    nodes each), the shape of a bulk import from another system."""
    lines = [
        "registries:",
        "  bulk:",
        "    display_name: Bulk import",
        f"    default_profile_slug: {profile_slug(0)}",
        "    profiles:",
    ]
    for i in range(count):
        topic = ("inventory", "billing", "support", "research", "travel")[i % 5]
        lines += [
            f"      {profile_slug(i)}:",
            f"        display_name: {topic.title()} assistant {i}",
            "        runtime:",
            f"          system_prompt: You are the {topic} assistant number {i}. Answer briefly.",
            f"          tools: [search, {topic}_lookup]",
            "        metadata:",
            f"          tags: [{topic}, tier-{i % 3}]",
        ]
    return "\n".join(lines) + "\n"


def measure_import_plan(count: int) -> dict[str, Any]:
    """Time `import --dry-run` of a generated `count`-profile document into an empty SQLite
    store, in this process: decoding (YAML loading and shapes) and planning (validation of
    every profile and the plan). CPU seconds are reported beside wall seconds because the
    load of the machine inflates the latter."""
    from registry.domain.importer import plan_import
    from registry.domain.service import RegistryService
    from registry.domain.yaml_codec import decode_registries
    from registry.store import open_store

    text = import_document(count)
    with tempfile.TemporaryDirectory(prefix="registry-bench-import-") as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'import.db'}")
        try:
            service = RegistryService(store)
            wall, cpu = time.perf_counter(), time.process_time()
            doc = decode_registries(text, service.default_registry)
            decoded_wall, decoded_cpu = time.perf_counter(), time.process_time()
            plan = plan_import(service, doc.registries, "upsert", fmt=doc.format, dry_run=True)
            end_wall, end_cpu = time.perf_counter(), time.process_time()
        finally:
            store.close()
    return {
        "profiles": count,
        "bytes": len(text.encode("utf-8")),
        "created": plan.counts()["created"],
        "decode_s": round(decoded_wall - wall, 2),
        "plan_s": round(end_wall - decoded_wall, 2),
        "total_s": round(end_wall - wall, 2),
        "total_cpu_s": round(end_cpu - cpu, 2),
        "decode_cpu_s": round(decoded_cpu - cpu, 2),
        "target_s": 3.0,
    }


def format_import_plan(figures: dict[str, Any]) -> str:
    verdict = "pass" if figures["total_s"] < figures["target_s"] else "MISS"
    return (
        f"import --dry-run of {figures['profiles']:,} profiles ({figures['bytes']:,} bytes): "
        f"{figures['total_s']} s (decode {figures['decode_s']} s, plan {figures['plan_s']} s; "
        f"CPU {figures['total_cpu_s']} s), target < {figures['target_s']:g} s: {verdict}"
    )


def database_version(store: Any) -> str:
    if store.kind == "postgresql":
        version = store.db.execute_sql("SHOW server_version").fetchone()[0]
        return f"PostgreSQL {version}"
    if store.kind == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} (WAL)"
    return store.kind
