"""Resolve preview: pick a registry, a profile and request overrides; see what a chat backend
would get (effective runtime, step settings patch, middleware configs, extensions,
fingerprint, version).

`GET /resolve?registry=&profile=` (links from profile pages) resolves at once without
overrides; the form posts (CSRF) and htmx swaps only the result block. Problems with the
input (invalid JSON, validation errors with field paths, policy violations, an unknown
registry or profile) are shown in the result block with **422** (htmx swaps 422; the JSON twin
answers 400/403/404 for the same problems). JSON twin: `POST /api/chat/resolve`.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from flask import Blueprint, current_app, request, url_for

from registry.domain.errors import (
    FieldError,
    NotFoundError,
    PolicyViolation,
    ValidationError,
)
from registry.domain.jsonutil import parse_json
from registry.domain.resolution import canonical_override_key
from registry.domain.service import MAX_PAGE
from registry.forms.schema_view import SchemaValue, config_view, extension_view

from ..deps import auth_enabled, get_service, public_reads
from ..htmx import is_htmx, render
from .history import display_value
from .provenance import provenance_rows
from .session import page_require

bp = Blueprint("resolve", __name__)

FORM_KEYS = ("registry", "profile", "request_overrides", "system_prompt", "tools")
MAX_OVERRIDE_DEPTH = 32


def parse_overrides(text: str) -> dict[str, Any]:
    """The overrides textarea: empty, or a JSON object (the API's strict parser)."""
    text = text.strip()
    if not text:
        return {}
    data = parse_json(
        text, field="request_overrides", base="request_overrides", max_depth=MAX_OVERRIDE_DEPTH
    )
    if not isinstance(data, dict):
        raise ValidationError(FieldError("request_overrides", "must be a JSON object"))
    return data


def build_overrides(form: dict[str, str]) -> dict[str, Any] | None:
    """JSON overrides plus the convenience fields (a non-empty field overrides that key)."""
    overrides = parse_overrides(form.get("request_overrides", ""))
    given = {canonical_override_key(k) for k in overrides if isinstance(k, str)}
    prompt = form.get("system_prompt", "").replace("\r\n", "\n")
    tools_text = form.get("tools", "")
    extra: dict[str, Any] = {}
    if prompt.strip():
        extra["system_prompt"] = prompt
    if tools_text.strip():
        lines = tools_text.replace(",", "\n").splitlines()
        extra["tools"] = [t.strip() for t in lines if t.strip()]
    errors = [
        FieldError(key, "given both here and in the JSON overrides; use one of them")
        for key in extra
        if key in given
    ]
    if errors:
        raise ValidationError(errors)
    overrides.update(extra)
    return overrides or None


def _form() -> dict[str, str]:
    source = request.form if request.method == "POST" else request.args
    return {key: source.get(key, "") for key in FORM_KEYS}


def _profile_choices(service, registry: str) -> tuple[list[Any], bool]:
    """Profiles for the select (first page), and whether there are more than fit."""
    try:
        page = service.list_profiles(registry, limit=MAX_PAGE)
    except (NotFoundError, ValidationError):
        return [], False
    return page.items, bool(page.next_cursor)


def curl_command(body: dict[str, Any]) -> str:
    """The equivalent JSON API call, shell-quoted."""
    parts = ["curl", "-sS", "-X", "POST", request.url_root.rstrip("/") + "/api/chat/resolve"]
    parts += ["-H", "Content-Type: application/json"]
    if auth_enabled() and not public_reads():
        parts += ["-H", "Authorization: Bearer $REGISTRY_TOKEN"]
    parts += ["--data", json.dumps(body, ensure_ascii=False, separators=(", ", ": "))]
    return " ".join(shlex.quote(p) if p != parts[0] else p for p in parts)


def _openapi_url() -> str:
    for rule in current_app.url_map.iter_rules():
        if rule.rule == "/api/openapi.json":
            return rule.rule
    return ""


def _config(service: Any, name: str, config: Any) -> SchemaValue:
    definition = service.middlewares.get(name)
    return config_view(definition.schema if definition else None, config)


@bp.route("/resolve", methods=["GET", "POST"])
@page_require("reader")
def resolve():
    """The form; with input, the resolution (or its errors, 422) in the result block."""
    service = get_service()
    form = _form()
    registries = [s.registry for s in service.list_registries()]
    known = {r.slug for r in registries}
    registry = form["registry"].strip().lower()
    if not registry:
        registry = service.default_registry if service.default_registry in known else ""
        registry = registry or (registries[0].slug if registries else "")
        form["registry"] = registry
    profiles, more = _profile_choices(service, registry) if registry in known else ([], False)
    ctx: dict[str, Any] = {
        "form": form,
        "registries": registries,
        "profiles": profiles,
        "more_profiles": more,
        "result": None,
        "error": "",
        "errors": [],
        "curl": "",
        "openapi_url": _openapi_url(),
        "nav": "resolve",
    }
    if request.args.get("part") == "profiles" and is_htmx():
        return render("resolve.html", "profile_field", **ctx)

    submitted = request.method == "POST" or any(request.args.get(k) for k in FORM_KEYS)
    if not submitted:
        return render("resolve.html", "result", **ctx)
    body: dict[str, Any] = {"registry": registry}
    if form["profile"].strip():
        body["profile"] = form["profile"].strip()
    try:
        overrides = build_overrides(form)
        if overrides:
            body["request_overrides"] = overrides
        ctx["curl"] = curl_command(body)
        resolved = service.resolve(registry or None, form["profile"] or None, overrides)
    except ValidationError as exc:
        ctx.update(error=str(exc), errors=exc.errors)
        return render("resolve.html", "result", status=422, **ctx)
    except (PolicyViolation, NotFoundError) as exc:
        ctx.update(error=str(exc))
        return render("resolve.html", "result", status=422, **ctx)
    data = resolved.to_data()
    runtime = data["effective_runtime"]
    ctx["result"] = {
        "data": data,
        "overridden": sorted({canonical_override_key(k) for k in (overrides or {})}),
        "system_prompt": runtime.get("system_prompt", ""),
        "tools": runtime.get("tools", []),
        "middlewares": [
            {**m, "config": _config(service, m["name"], m.get("config") or {})}
            for m in data["middleware_configs"]
        ],
        "step_settings_patch": display_value(data["effective_step_settings_patch"] or None),
        "extensions": [
            extension_view(key, value, service.codecs)
            for key, value in sorted((data["extensions"] or {}).items())
        ],
        "json": json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True),
        "lineage": [(x["registry_slug"], x["profile_slug"]) for x in resolved.stack_lineage],
        "provenance": provenance_rows(resolved.stack_trace, len(resolved.stack_lineage))
        if len(resolved.stack_lineage) > 1
        else [],
    }
    ctx["profile_url"] = url_for(
        "pages.profiles.profile", slug=data["registry"], profile=data["profile"]
    )
    return render("resolve.html", "result", **ctx)
