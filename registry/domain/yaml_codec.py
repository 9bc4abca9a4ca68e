"""YAML documents of registries: format detection, decoding to registries, canonical encoding.

Text is loaded by the hardened loader (`yaml_safe.load_document`: hostile-input-safe, see
there; JSON texts take the standard library's parser).
Decoding is structural: it parses
shapes and slugs; business rules (defaults that exist, extension codecs) belong to the service.

Encoding writes the canonical bundle (`registries: {slug: registry}`), deterministically: the
same registries always give the same bytes, and `encode(decode(encode(x))) == encode(x)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import FieldError, ValidationError
from .json_bundle import bundle_spans
from .model import Profile, Registry, profile_from_data, registry_from_data, registry_to_data
from .slugs import SlugError, go_quote, parse_slug
from .text import repair, repair_tree
from .yaml_safe import MAX_BYTES, MAX_DEPTH, document_text, load_document

FORMATS = ("bundle", "registry", "legacy", "empty")
SINGLE_REGISTRY_KEYS = frozenset({"profiles", "slug", "default_profile_slug"})


# --- decoding --------------------------------------------------------------------------------


@dataclass
class DecodedDocument:
    """What a YAML document held: its detected format and its registries (profiles filled)."""

    format: str  # one of FORMATS
    registries: list[Registry] = field(default_factory=list)


def decode_registries(
    text: str | bytes,
    default_registry: str = "default",
    *,
    max_bytes: int = MAX_BYTES,
    repair: bool = False,
) -> DecodedDocument:
    """Decode a bundle, a single-registry document or a legacy flat profile map.

    Detection: a top-level `registries` key is the canonical bundle; a top
    level with `profiles`, `slug` or `default_profile_slug` is one registry; anything else is
    the legacy flat map `profile -> section -> field -> value`, which becomes one registry
    named `default_registry` whose profiles carry `runtime.step_settings_patch`.

    Slugs are normalized (trim + lower case); a missing registry or profile slug falls back to
    its map key. Deliberate deviations from the reference: a single-registry document without
    `slug` takes `default_registry` (the reference failed); the legacy default is `default` if
    present, else the first *normalized* slug in sorted order; keys that normalize to the same
    slug, and a `slug` that contradicts its map key, are errors instead of silently winning.
    All problems are reported together in one `ValidationError`.

    `max_bytes` is the size limit, and sets the node budget with it (`yaml_safe.node_budget`).
    `repair` (a store reading its own file) replaces NUL and lone surrogates by U+FFFD instead
    of refusing them, and lists the repaired paths in each item's `repaired`.
    """
    if isinstance(text, str) and not text.strip():
        return DecodedDocument("empty")
    data = load_document(text, max_bytes=max_bytes, repair=repair)
    if data is None or data == {}:
        return DecodedDocument("empty")
    if not isinstance(data, dict):
        raise ValidationError(FieldError("document", f"must be a mapping, not {_kind(data)}"))
    errors: list[FieldError] = []
    if "registries" in data:
        fmt = "bundle"
        registries = _decode_bundle(data, errors, repair)
    elif SINGLE_REGISTRY_KEYS & data.keys():
        fmt = "registry"
        registries = _decode_registry(data, default_registry, "registry", errors, repair=repair)
    else:
        fmt = "legacy"
        registries = _decode_legacy(data, default_registry, errors)
    if errors:
        raise ValidationError(errors)
    return DecodedDocument(fmt, registries)


class RegistryStream:
    """The registries of a document, decoded one at a time as they are iterated (once).

    A clean JSON bundle (`json_bundle`) is parsed registry by registry, so only one
    registry's parsed form and model exist at a time; any other document is decoded whole
    first (`decode_registries`). Registries come in slug order, as from `decode_registries`.
    Decoding problems are all collected: once there is one, no further registry is yielded,
    and the iteration ends by raising one `ValidationError` with every one of them, so a
    consumer that holds its own errors back until the end reports the decoding ones first,
    as a whole-document decode would."""

    def __init__(self, text: str | bytes, default_registry: str, max_bytes: int) -> None:
        spans = None
        if text.lstrip()[:1] in ("{", b"{"):
            text = document_text(text, max_bytes=max_bytes)
            spans = bundle_spans(text, MAX_DEPTH)
        self._spans = spans
        if spans is None:
            doc = decode_registries(text, default_registry, max_bytes=max_bytes)
            self.format = doc.format
            self._decoded = doc.registries[::-1]  # popped from the end as iterated
        else:
            self.format = "bundle"
            self._decoded = []
        self._count = len(spans) if spans is not None else len(self._decoded)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Registry]:
        if self._spans is None:
            while self._decoded:
                yield self._decoded.pop()
            return
        spans, self._spans = self._spans, None
        errors: list[FieldError] = []
        for key in sorted(spans.spans):
            decoded = _bundle_entry(key, spans.value(key), errors)
            if not errors:
                yield from decoded
        if errors:
            raise ValidationError(errors)


def stream_registries(
    text: str | bytes, default_registry: str = "default", *, max_bytes: int = MAX_BYTES
) -> RegistryStream:
    """`decode_registries` for bulk readers that take registries one at a time (imports,
    `validate`): a large JSON bundle then never exists whole as objects."""
    return RegistryStream(text, default_registry, max_bytes)


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a scalar")


def _decode_bundle(
    data: dict[str, Any], errors: list[FieldError], repair: bool = False
) -> list[Registry]:
    for key in sorted(data):
        if key != "registries":
            errors.append(FieldError(f"document.{key}", "unknown field"))
    raw = data["registries"]
    if raw is None:
        return []
    if not isinstance(raw, dict):
        errors.append(FieldError("registries", "registries must be a mapping"))
        return []
    out: dict[str, Registry] = {}
    for key in sorted(raw):
        # taken out of the parsed document as it is decoded, so each registry's parsed form
        # is freed once its model exists instead of both being held for the whole bundle
        # (the map itself is the document's own; a YAML alias shares values, never this map)
        for reg in _bundle_entry(key, raw.pop(key), errors, repair):
            if reg.slug in out:
                errors.append(
                    FieldError(
                        f"registries[{key}]", f"duplicate registry slug {go_quote(reg.slug)}"
                    )
                )
            else:
                out[reg.slug] = reg
    return [out[slug] for slug in sorted(out)]


def _bundle_entry(
    key: str, value: Any, errors: list[FieldError], repair: bool = False
) -> list[Registry]:
    """One entry of a bundle's `registries` map -> [registry] (or [] with `errors` extended)."""
    path = f"registries[{key}]"
    if not isinstance(value, dict):
        errors.append(FieldError(path, f"registry {go_quote(key)} must be a mapping"))
        return []
    return _decode_registry(value, "", path, errors, map_key=key, repair=repair)


def _decode_registry(
    data: dict[str, Any],
    fallback: str,
    path: str,
    errors: list[FieldError],
    *,
    map_key: str = "",
    repair: bool = False,
) -> list[Registry]:
    """One registry mapping -> [registry] (or [] with `errors` extended)."""
    repaired: dict[str, list[str]] = {}
    if repair:
        data, repaired = _repair_registry(data)
    try:
        reg = registry_from_data(data, slug=map_key or fallback, path=path)
    except ValidationError as exc:
        errors.extend(exc.errors)
        return []
    reg.repaired = repaired.pop("", [])
    for key, profile in reg.profiles.items():
        profile.repaired = repaired.get(key, [])
    failed = len(errors)
    reg.slug = _slug(reg.slug, f"{path}.slug", "registry slug", errors)
    if map_key and reg.slug:
        key_slug = _slug(map_key, path, "registry slug", errors)
        if key_slug and key_slug != reg.slug:
            errors.append(FieldError(f"{path}.slug", "map key and registry slug must match"))
    if reg.default_profile_slug:
        reg.default_profile_slug = _slug(
            reg.default_profile_slug, f"{path}.default_profile_slug", "profile slug", errors
        )
    profiles: dict[str, Profile] = {}
    for key in sorted(reg.profiles):
        ppath = f"{path}.profiles[{key}]"
        profile = reg.profiles[key]
        key_slug = _slug(key, ppath, "profile slug", errors)
        profile.slug = _slug(profile.slug, f"{ppath}.slug", "profile slug", errors)
        if key_slug and profile.slug and key_slug != profile.slug:
            errors.append(FieldError(f"{ppath}.slug", "map key and profile slug must match"))
        elif profile.slug in profiles:
            errors.append(FieldError(ppath, f"duplicate profile slug {go_quote(profile.slug)}"))
        elif profile.slug:
            profiles[profile.slug] = profile
    reg.profiles = profiles
    return [reg] if len(errors) == failed else []


def _repair_registry(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """NUL and lone surrogates -> U+FFFD in a registry mapping; repaired paths by profile map
    key (`""`: the registry's own fields), relative to that registry or profile."""
    header, paths = repair_tree({k: v for k, v in data.items() if k != "profiles"})
    repaired = {"": paths}
    profiles = data.get("profiles")
    if isinstance(profiles, dict):
        header["profiles"] = {}
        for key, value in profiles.items():
            new_key = repair(key) if isinstance(key, str) else key
            header["profiles"][new_key], repaired[new_key] = repair_tree(value)
    elif "profiles" in data:
        header["profiles"] = profiles
    return header, repaired


def _decode_legacy(
    data: dict[str, Any], default_registry: str, errors: list[FieldError]
) -> list[Registry]:
    slug = _slug(default_registry or "default", "registry.slug", "registry slug", errors)
    profiles: dict[str, Profile] = {}
    for key in sorted(data):
        path = f"document[{key}]"
        pslug = _slug(key, path, "profile slug", errors)
        if not pslug:
            continue
        if not isinstance(data[key], dict):
            errors.append(
                FieldError(path, f"legacy profile {go_quote(key)} must map to section settings")
            )
            continue
        if pslug in profiles:
            errors.append(FieldError(path, f"duplicate profile slug {go_quote(pslug)}"))
            continue
        raw = {"slug": pslug, "runtime": {"step_settings_patch": data[key]}}
        try:
            profiles[pslug] = profile_from_data(raw)
        except ValidationError as exc:
            errors.extend(e.prefixed(path) for e in exc.errors)
    if not slug or not profiles:
        return []
    default = "default" if "default" in profiles else min(profiles)
    return [Registry(slug=slug, default_profile_slug=default, profiles=profiles)]


def _slug(raw: Any, path: str, label: str, errors: list[FieldError]) -> str:
    try:
        return parse_slug(raw, label)
    except SlugError as exc:
        errors.append(FieldError(path, str(exc)))
        return ""


# --- encoding --------------------------------------------------------------------------------


# PyYAML folds NEL, LS, PS and CR when they appear raw in plain, single-quoted or literal
# scalars; double quotes escape them, so such strings round-trip exactly.
_FOLDED_BREAKS = frozenset("\x85\u2028\u2029\r")


def _represent_str(dumper: yaml.representer.SafeRepresenter, value: str) -> yaml.ScalarNode:
    if not _FOLDED_BREAKS.isdisjoint(value):
        style: str | None = '"'
    elif "\n" in value:
        style = "|"  # prompts stay readable; the emitter falls back when a block can't hold it
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


class _PyDumper(yaml.SafeDumper):
    """Block style, never anchors or aliases. The resolver keeps implicit timestamps, so
    date-like strings are quoted and stay strings for any YAML reader, not only ours."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_PyDumper.add_representer(str, _represent_str)
_DUMPER: type = _PyDumper

if hasattr(yaml, "CSafeDumper"):  # libyaml's emitter: same representer, 2-3x faster

    class _CDumper(yaml.CSafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    _CDumper.add_representer(str, _represent_str)
    _DUMPER = _CDumper


def encode_registries(registries: Iterable[Registry], *, with_state: bool = False) -> str:
    """The canonical bundle: registries sorted by slug, fields in model order, profiles sorted,
    free-form maps (extensions, step settings, middleware config) sorted recursively.

    `with_state` keeps `read_only`/`managed_by` (the YAML store's own file); exports leave that
    deployment state out.
    """
    bundle: dict[str, Any] = {}
    for reg in sorted(registries, key=lambda r: r.slug):
        if reg.slug in bundle:
            raise ValidationError(
                FieldError("registries", f"duplicate registry slug {go_quote(reg.slug)}")
            )
        bundle[reg.slug] = _registry_data(reg, with_state)
    return _dump({"registries": bundle})


def encode_registries_json(registries: Iterable[Registry]) -> str:
    """The canonical bundle as JSON (same shape and order as the YAML one): what
    `export --format json` writes and every importer reads back through the JSON lane."""
    bundle = {
        reg.slug: _registry_data(reg, False) for reg in sorted(registries, key=lambda r: r.slug)
    }
    return json.dumps({"registries": bundle}, ensure_ascii=False, indent=2) + "\n"


def encode_registry(registry: Registry, *, with_state: bool = False) -> str:
    """One registry as a single-registry document (same ordering rules as the bundle)."""
    return _dump(_registry_data(registry, with_state))


def _registry_data(reg: Registry, with_state: bool) -> dict[str, Any]:
    # shared: `_sorted` below rebuilds every free-form map, so copies first would be waste
    data = registry_to_data(reg, compact=True, with_state=with_state, shared=True)
    if "extensions" in data:
        data["extensions"] = _sorted(data["extensions"])
    for profile in data.get("profiles", {}).values():
        if "extensions" in profile:
            profile["extensions"] = _sorted(profile["extensions"])
        runtime = profile.get("runtime", {})
        if "step_settings_patch" in runtime:
            runtime["step_settings_patch"] = _sorted(runtime["step_settings_patch"])
        for use in runtime.get("middlewares", []):
            if "config" in use:
                use["config"] = _sorted(use["config"])
    return data


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(
        data,
        Dumper=_DUMPER,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
        indent=2,
    )
