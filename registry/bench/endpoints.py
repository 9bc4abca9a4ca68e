"""The measured endpoints: their requests (as specs a driver process can send), the floor
first, and what "fast enough" means for each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .drive import UNIQUE_TEXT
from .seed import STACK_DEPTH, STACK_REGISTRY, SeedPlan, profile_slug, stack_slug

PATCH_SLOTS = 64  # distinct profiles a PATCH run spreads its writes over


@dataclass
class Target:
    """What "fast enough" means for one endpoint (from the issue asking for the bench)."""

    min_ratio: float | None = None  # throughput relative to the hello floor
    max_p50_ms: float | None = None
    within_of: str = ""  # another endpoint whose throughput this one must stay close to
    within_factor: float = 0.0

    def describe(self) -> str:
        parts = []
        if self.min_ratio is not None:
            parts.append(f">= {self.min_ratio:g}x")
        if self.max_p50_ms is not None:
            parts.append(f"p50 < {self.max_p50_ms:g} ms")
        if self.within_of:
            parts.append(f"<= {self.within_factor:g}x slower than {self.within_of}")
        return ", ".join(parts) or "floor"


@dataclass
class Endpoint:
    name: str
    label: str
    method: str
    # One request per variant; client thread k sends variant k % len(variants) repeatedly.
    variants: list[dict[str, Any]]
    expect: int = 200
    target: Target | None = None


def request_spec(
    method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body)
        hdrs["Content-Type"] = "application/json"
    return {"method": method, "path": path, "body": data, "headers": hdrs}


def endpoints(plan: SeedPlan, database: str = "sqlite") -> list[Endpoint]:
    """The measured endpoints, the floor first. The 304 run comes before any write so that
    the list ETag it sends stays current; writes go to registries no read run uses.
    `database` ("sqlite" or "postgresql") picks the PATCH target: PostgreSQL writes pay
    network round trips that SQLite's do not."""
    patch_ratio = 0.2 if database == "postgresql" else 0.3
    small_read, small_write = "bench-100-01", "bench-100-00"
    large, huge = "bench-1000", "bench-10000"
    resolve_body = {
        "registry": small_read,
        "profile": profile_slug(7),
        "request_overrides": {
            "system_prompt": "You are terse. Answer in one sentence.",
            "step_settings_patch": {"ai-chat": {"ai-temperature": 0.9}},
        },
    }

    def patch_variants(registry: str, count: int) -> list[dict[str, Any]]:
        step = max(1, count // PATCH_SLOTS)
        out = []
        for k in range(min(PATCH_SLOTS, count)):
            i = (k * step) % count
            body = {  # every request a real write: UNIQUE_TEXT differs per request
                "description": f"Edited by the benchmark (slot {k}, write {UNIQUE_TEXT}).",
                "runtime": {
                    "system_prompt": f"You are assistant {i}, edited by the benchmark.",
                    "tools": ["search", "calculator"],
                    "middlewares": [
                        {"name": "agentmode", "id": "primary"},
                        {"name": "sqlite", "id": "db"},
                    ],
                },
            }
            out.append(
                request_spec(
                    "PATCH", f"/api/chat/profiles/{profile_slug(i)}?registry={registry}", body
                )
            )
        return out

    list_large = f"/api/chat/profiles?registry={large}"
    return [
        Endpoint("hello", "GET /-/hello (floor)", "GET", [request_spec("GET", "/-/hello")]),
        Endpoint(
            "list_100",
            f"GET /api/chat/profiles ({plan.small})",
            "GET",
            [request_spec("GET", f"/api/chat/profiles?registry={small_read}")],
        ),
        Endpoint(
            "list_1000",
            f"GET /api/chat/profiles ({plan.large})",
            "GET",
            [request_spec("GET", list_large)],
            target=Target(max_p50_ms=20),
        ),
        Endpoint(
            "list_1000_304",
            f"GET /api/chat/profiles ({plan.large}) If-None-Match",
            "GET",
            [request_spec("GET", list_large)],  # the ETag is filled in before the run
            expect=304,
            target=Target(min_ratio=0.6),
        ),
        Endpoint(
            "get_profile",
            "GET /api/chat/profiles/{slug}",
            "GET",
            [
                request_spec(
                    "GET",
                    f"/api/chat/profiles/{profile_slug(42 % plan.small)}?registry={small_read}",
                )
            ],
            target=Target(min_ratio=0.6),
        ),
        Endpoint(
            "resolve",
            "POST /api/chat/resolve (overrides)",
            "POST",
            [request_spec("POST", "/api/chat/resolve", resolve_body)],
            target=Target(min_ratio=0.5),
        ),
        Endpoint(
            "resolve_stack",
            f"POST /api/chat/resolve ({STACK_DEPTH}-layer stack, overrides)",
            "POST",
            [
                request_spec(
                    "POST",
                    "/api/chat/resolve",
                    {**resolve_body, "registry": STACK_REGISTRY, "profile": stack_slug(5)},
                )
            ],
            target=Target(min_ratio=0.3),
        ),
        # The HTML pages: measured and reported beside the API endpoints.
        Endpoint(
            "page_registry",
            f"GET /registries/{{slug}} (HTML, {plan.huge})",
            "GET",
            [request_spec("GET", f"/registries/{huge}")],
            target=Target(min_ratio=0.3),
        ),
        Endpoint(
            "page_registry_sorted",
            f"GET /registries/{{slug}}?sort=updated&last=1 (HTML, {plan.huge}, last page)",
            "GET",
            [request_spec("GET", f"/registries/{huge}?sort=updated&order=asc&last=1")],
            target=Target(min_ratio=0.3),
        ),
        Endpoint(
            "page_editor",
            "GET /registries/{slug}/profiles/{slug}/edit (HTML editor)",
            "GET",
            [request_spec("GET", f"/registries/{small_read}/profiles/{profile_slug(7)}/edit")],
            target=Target(min_ratio=0.3),
        ),
        Endpoint(
            "page_profile",
            "GET /registries/{slug}/profiles/{slug} (HTML profile view)",
            "GET",
            [request_spec("GET", f"/registries/{small_read}/profiles/{profile_slug(7)}")],
            target=Target(min_ratio=0.3),
        ),
        Endpoint(
            "patch_100",
            f"PATCH /api/chat/profiles/{{slug}} ({plan.small})",
            "PATCH",
            patch_variants(small_write, plan.small),
            target=Target(min_ratio=patch_ratio),
        ),
        Endpoint(
            "patch_10000",
            f"PATCH /api/chat/profiles/{{slug}} ({plan.huge})",
            "PATCH",
            patch_variants(huge, plan.huge),
            target=Target(min_ratio=patch_ratio, within_of="patch_100", within_factor=1.2),
        ),
    ]
