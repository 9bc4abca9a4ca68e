"""Bulk bundles for `bench --bulk`: realistic profiles (prompt, tools, a middleware with config,
policy, tags, starter suggestions), about 550 bytes of YAML each, 1,000 per registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

PER_REGISTRY = 1_000
TOPICS = ("inventory", "billing", "support", "research", "travel")


def bulk_profile(i: int) -> dict[str, Any]:
    topic = TOPICS[i % len(TOPICS)]
    return {
        "slug": f"p-{i:06d}",
        "display_name": f"{topic.title()} assistant {i}",
        "description": f"Helps the {topic} team with everyday questions.",
        "runtime": {
            "system_prompt": f"You are the {topic} assistant number {i}. Answer briefly "
            "and cite the tool you used.",
            "tools": ["search", f"{topic}_lookup"],
            "middlewares": [
                {
                    "name": "sqlite",
                    "id": "db",
                    "config": {"dsn": f"file:{topic}.db?mode=ro", "max_rows": 50 + i % 50},
                }
            ],
        },
        "policy": {"allow_overrides": True, "allowed_override_keys": ["system_prompt"]},
        "metadata": {"tags": [topic, f"tier-{i % 3}"]},
        "extensions": {
            "webchat.starter_suggestions@v1": {
                "items": [f"What changed in {topic} this week?", "Summarize the open issues"]
            }
        },
    }


def bulk_registries(count: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """(slug, registry data) for `count` profiles, `PER_REGISTRY` to a registry."""
    for r, start in enumerate(range(0, count, PER_REGISTRY)):
        profiles = {
            f"p-{i:06d}": bulk_profile(i) for i in range(start, min(count, start + PER_REGISTRY))
        }
        yield (
            f"bulk-{r:03d}",
            {
                "display_name": f"Bulk registry {r}",
                "default_profile_slug": next(iter(profiles)),
                "profiles": profiles,
            },
        )


def write_bundle(count: int, path: Path) -> int:
    """Write a `count`-profile bundle as YAML or JSON (by the file's suffix); its size."""
    data = {"registries": dict(bulk_registries(count))}
    with path.open("w", encoding="utf-8") as out:
        if path.suffix == ".json":
            json.dump(data, out, ensure_ascii=False, indent=1)
        else:
            yaml.dump(data, out, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True)
    return path.stat().st_size
