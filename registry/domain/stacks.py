"""Profile stacks: topology, expansion, merge and provenance (README, "Stacks").

A profile lists base profiles in `stack` (low to high precedence) and is applied last itself.
Everything here is pure: callers hand in the profiles as a mapping from `(registry, profile)`
to `Profile` (the service reads them from the store in a few batched queries, imports from the
file being planned), so the same rules serve resolution, writes and import plans.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import FieldError, PolicyViolation, ValidationError
from .model import (
    MiddlewareUse,
    PolicySpec,
    Profile,
    ProfileRef,
    RuntimeSpec,
    copy_value,
    middleware_to_data,
)
from .resolution import canonical_override_key, merge_step_settings_patches

MAX_STACK_DEPTH = 32  # a chain may hold at most this many profiles, the leaf included

Key = tuple[str, str]  # (registry slug, profile slug)


def node_name(key: Key) -> str:
    """`registry/profile`, as chains are printed in messages."""
    return f"{key[0]}/{key[1]}"


def ref_target(ref: ProfileRef, registry: str) -> Key:
    """Where a ref points: a blank `registry_slug` means the referencing profile's registry."""
    return (ref.registry_slug.strip().lower() or registry, ref.profile_slug.strip().lower())


def layer_field(key: Key, index: int) -> str:
    """The field path of a stored profile's i-th ref (where resolution reports problems)."""
    return f"registries[{key[0]}].profiles[{key[1]}].stack[{index}]"


def _chain(path: list[Key], last: Key) -> str:
    return " -> ".join(node_name(k) for k in [*path, last])


def cycle_message(path: list[Key], target: Key) -> str:
    return f"stack cycle detected: {_chain(path, target)}"


def depth_message(path: list[Key], target: Key, max_depth: int) -> str:
    return f"stack depth exceeds max_depth={max_depth} while traversing {_chain(path, target)}"


def missing_profile_message(target: Key) -> str:
    return f'referenced profile "{target[1]}" not found in registry "{target[0]}"'


def missing_registry_message(registry: str) -> str:
    return f'referenced registry "{registry}" not found'


# --- reading the graph ---------------------------------------------------------------------------

FetchMany = Callable[[list[Key]], Mapping[Key, Profile]]


def collect_graph(
    roots: Mapping[Key, Profile], fetch: FetchMany, *, max_depth: int = MAX_STACK_DEPTH
) -> dict[Key, Profile]:
    """Every profile reachable from `roots` through stacks, read level by level: one `fetch`
    per level of the deepest chain (never one per ref), at most `max_depth + 1` of them.
    Targets `fetch` does not return are simply absent (the walks report them)."""
    graph = dict(roots)
    frontier = list(roots)
    seen = set(roots)
    for _ in range(max_depth + 1):
        wanted: list[Key] = []
        for key in frontier:
            for ref in graph[key].stack:
                target = ref_target(ref, key[0])
                if target not in seen:
                    seen.add(target)
                    wanted.append(target)
        if not wanted:
            break
        found = fetch(wanted)
        frontier = [k for k in wanted if k in found]
        graph.update((k, found[k]) for k in frontier)
    return graph


# --- topology validation ------------------------------------------------------------------------


def check_topology(
    key: Key,
    graph: Mapping[Key, Profile],
    *,
    registry_exists: Callable[[str], bool],
    field_of: Callable[[int], str],
    max_depth: int = MAX_STACK_DEPTH,
) -> list[FieldError]:
    """The problems of one profile's stack, each at `field_of(i)` for the ref it starts from.

    Its own refs must point at existing profiles, except refs to a registry that does not exist
    yet (imports load registries in any order; resolving reports them). Below them, a cycle
    or a chain longer than `max_depth` is an error; a missing profile deeper down is not this
    write's doing and is left to resolution to report.
    """
    errors: list[FieldError] = []
    profile = graph[key]
    seen_targets: dict[Key, int] = {}
    for i, ref in enumerate(profile.stack):
        target = ref_target(ref, key[0])
        if target in seen_targets:
            errors.append(FieldError(field_of(i), f"duplicate of stack[{seen_targets[target]}]"))
            continue
        seen_targets[target] = i
        if target not in graph:
            if target[0] == key[0] or registry_exists(target[0]):
                errors.append(FieldError(field_of(i), missing_profile_message(target)))
            continue
        problem = _walk_problem(graph, [key], target, max_depth)
        if problem:
            errors.append(FieldError(field_of(i), problem))
    return errors


def _walk_problem(
    graph: Mapping[Key, Profile], path: list[Key], target: Key, max_depth: int
) -> str:
    """The first cycle or depth overflow met walking from `target` below `path` ("" if none).
    Depth-first, refs in declared order; missing targets end a branch."""
    if target in path:
        return cycle_message(path, target)
    if len(path) + 1 > max_depth:
        return depth_message(path, target, max_depth)
    node = graph.get(target)
    if node is None:
        return ""
    path.append(target)
    try:
        for ref in node.stack:
            problem = _walk_problem(graph, path, ref_target(ref, target[0]), max_depth)
            if problem:
                return problem
    finally:
        path.pop()
    return ""


def height(
    key: Key, dependants: Callable[[Key], Iterable[Key]], *, limit: int = MAX_STACK_DEPTH
) -> int:
    """How many profiles stack above `key` on its longest chain of dependants (0: none),
    counted up to `limit + 1` (enough to know a chain would be too deep)."""
    best = 0
    level = {key}
    seen = {key}
    while level and best <= limit:
        above = {d for k in level for d in dependants(k)}
        level = above - seen
        seen |= above
        if not above:
            break
        best += 1
    return best


# --- expansion -----------------------------------------------------------------------------------


@dataclass
class Layer:
    registry_slug: str
    profile_slug: str
    profile: Profile

    @property
    def key(self) -> Key:
        return (self.registry_slug, self.profile_slug)


def expand_stack(
    root: Key,
    graph: Mapping[Key, Profile],
    *,
    registry_exists: Callable[[str], bool],
    max_depth: int = MAX_STACK_DEPTH,
) -> list[Layer]:
    """The layers of `root`, base to leaf: a depth-first post-order walk, each profile at its
    first completed visit, the root last. Raises `ValidationError` at the stored ref
    (`registries[r].profiles[p].stack[i]`) for a cycle, a chain deeper than `max_depth`, or a
    missing registry or profile."""
    layers: list[Layer] = []
    done: set[Key] = set()

    def visit(key: Key, path: list[Key]) -> None:
        path.append(key)
        for i, ref in enumerate(graph[key].stack):
            target = ref_target(ref, key[0])
            where = layer_field(key, i)
            if len(path) + 1 > max_depth:
                raise ValidationError(FieldError(where, depth_message(path, target, max_depth)))
            if target in path:
                raise ValidationError(FieldError(where, cycle_message(path, target)))
            if target in done:
                continue
            if target not in graph:
                if not registry_exists(target[0]):
                    raise ValidationError(FieldError(where, missing_registry_message(target[0])))
                raise ValidationError(FieldError(where, missing_profile_message(target)))
            visit(target, path)
        path.pop()
        done.add(key)
        layers.append(Layer(key[0], key[1], graph[key]))

    visit(root, [])
    return layers


# --- merge ---------------------------------------------------------------------------------------


def instance_key(use: MiddlewareUse, index: int) -> str:
    """`name#id`, or `name[i]` (i: its position in its own layer's list) without an id."""
    use_id = use.id.strip()
    return f"{use.name}#{use_id}" if use_id else f"{use.name}[{index}]"


@dataclass
class EffectivePolicy:
    """The merged policy. `allowed_override_keys` is tri-state: None = no allow list (every
    key not denied may be overridden), [] = nothing may be, [k...] = only those."""

    allow_overrides: bool = False
    read_only: bool = False
    allowed_override_keys: list[str] | None = None
    denied_override_keys: list[str] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "allow_overrides": self.allow_overrides,
            "read_only": self.read_only,
            "denied_override_keys": list(self.denied_override_keys),
        }
        if self.allowed_override_keys is not None:
            out["allowed_override_keys"] = list(self.allowed_override_keys)
        return out


def _canonical_keys(keys: list[str]) -> set[str]:
    return {canonical_override_key(k) for k in keys} - {""}


def merge_policies(policies: list[PolicySpec]) -> EffectivePolicy:
    """The restrictive merge: overrides allowed only if every layer allows them, read-only if
    any layer is, allowed keys the intersection of the layers' allow lists, denied keys their
    union (and removed from the allowed ones). An intersection that ends up empty stays an
    empty list, so it allows nothing: merging never widens a policy."""
    if not policies:
        return EffectivePolicy()
    allowed: set[str] | None = None
    denied: set[str] = set()
    allow = True
    read_only = False
    for p in policies:
        allow = allow and p.allow_overrides
        read_only = read_only or p.read_only
        own = _canonical_keys(p.allowed_override_keys)
        if own:
            allowed = own if allowed is None else allowed & own
        denied |= _canonical_keys(p.denied_override_keys)
    return EffectivePolicy(
        allow_overrides=allow,
        read_only=read_only,
        allowed_override_keys=None if allowed is None else sorted(allowed - denied),
        denied_override_keys=sorted(denied),
    )


def enforce(policy: EffectivePolicy, keys: Iterable[str]) -> None:
    """Raise `PolicyViolation` unless every (canonical) override key passes, in sorted order."""
    keys = sorted(keys)
    if not keys:
        return
    if not policy.allow_overrides:
        raise PolicyViolation("request overrides are disabled for this profile")
    denied = set(policy.denied_override_keys)
    for key in keys:
        if key in denied:
            raise PolicyViolation(f'override key "{key}" is denied')
        if policy.allowed_override_keys is not None and key not in policy.allowed_override_keys:
            raise PolicyViolation(f'override key "{key}" is not allowed')


def deep_merge(base: Any, overlay: Any) -> Any:
    """Objects merge key by key, recursively; anything else in `overlay` replaces `base`.
    Neither input changes; the result copies `overlay`'s values and may share the parts of
    `base` the overlay leaves alone."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = dict(base)
        for key, value in overlay.items():
            out[key] = deep_merge(out[key], value) if key in out else copy_value(value)
        return out
    return copy_value(overlay)


@dataclass
class MiddlewareSource:
    """Where a merged middleware use came from: its layer and its position in that layer."""

    layer: int
    index: int


@dataclass
class MergedStack:
    runtime: RuntimeSpec
    policy: EffectivePolicy
    extensions: dict[str, Any]
    middleware_sources: list[MiddlewareSource]


def merge_layers(layers: list[Layer]) -> MergedStack:
    """Merge base to leaf: step settings per field, the last non-blank system prompt, tools
    replaced by any layer that has some, middlewares by instance key (a later entry with the
    same key replaces the earlier one in place, new keys are appended), extensions
    deep-merged, the policy merged restrictively (`merge_policies`)."""
    runtime = RuntimeSpec()
    extensions: dict[str, Any] = {}
    uses: dict[str, tuple[MiddlewareUse, MiddlewareSource]] = {}
    for n, layer in enumerate(layers):
        rt = layer.profile.runtime
        runtime.step_settings_patch = merge_step_settings_patches(
            runtime.step_settings_patch, rt.step_settings_patch
        )
        if rt.system_prompt.strip():
            runtime.system_prompt = rt.system_prompt
        if rt.tools:
            runtime.tools = list(rt.tools)
        for i, use in enumerate(rt.middlewares):
            uses[instance_key(use, i)] = (copy_value(use), MiddlewareSource(n, i))
        for key, value in layer.profile.extensions.items():
            extensions[key] = (
                deep_merge(extensions[key], value) if key in extensions else (copy_value(value))
            )
    runtime.middlewares = [use for use, _ in uses.values()]
    return MergedStack(
        runtime=runtime,
        policy=merge_policies([layer.profile.policy for layer in layers]),
        extensions=extensions,
        middleware_sources=[source for _, source in uses.values()],
    )


# --- provenance ----------------------------------------------------------------------------------


def escape_token(token: str) -> str:
    """A JSON pointer token: `~` as `~0`, `/` as `~1`."""
    return token.replace("~", "~0").replace("/", "~1")


def _leaves(prefix: str, value: Any) -> Iterable[tuple[str, Any]]:
    """(pointer, value) for each leaf of an object, keys sorted; an empty object is a leaf."""
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _leaves(f"{prefix}/{escape_token(str(key))}", value[key])
    else:
        yield prefix, copy_value(value)


def _runtime_paths(rt: RuntimeSpec) -> Iterable[tuple[str, Any]]:
    for section in sorted(rt.step_settings_patch):
        yield from _leaves(
            f"/runtime/step_settings_patch/{escape_token(section)}",
            rt.step_settings_patch[section],
        )
    if rt.system_prompt.strip():
        yield "/runtime/system_prompt", rt.system_prompt
    if rt.tools:
        yield "/runtime/tools", list(rt.tools)
    for i, use in enumerate(rt.middlewares):
        yield f"/runtime/middlewares/{escape_token(instance_key(use, i))}", middleware_to_data(use)


def _extension_paths(extensions: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    for key in sorted(extensions):
        yield from _leaves(f"/extensions/{escape_token(key)}", extensions[key])


def _policy_paths(policy: EffectivePolicy) -> Iterable[tuple[str, Any]]:
    yield "/policy/allow_overrides", policy.allow_overrides
    yield "/policy/read_only", policy.read_only
    yield (
        "/policy/allowed_override_keys",
        (None if policy.allowed_override_keys is None else list(policy.allowed_override_keys)),
    )
    yield "/policy/denied_override_keys", list(policy.denied_override_keys)


def _layer_policy(p: PolicySpec) -> EffectivePolicy:
    allowed = [k for k in p.allowed_override_keys if k.strip()]
    return EffectivePolicy(
        allow_overrides=p.allow_overrides,
        read_only=p.read_only,
        allowed_override_keys=allowed or None,
        denied_override_keys=[k for k in p.denied_override_keys if k.strip()],
    )


@dataclass
class TraceStep:
    registry_slug: str
    profile_slug: str
    profile_version: int
    layer_index: int
    path: str
    value: Any

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "registry_slug": self.registry_slug,
            "profile_slug": self.profile_slug,
        }
        if self.profile_version:
            out["profile_version"] = self.profile_version
        out["layer_index"] = self.layer_index
        out["path"] = self.path
        out["value"] = self.value  # the trace owns its values (copied when recorded)
        return out


@dataclass
class StackTrace:
    """Per JSON-pointer path: the final value and every layer that set it, base to leaf."""

    values: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, list[TraceStep]] = field(default_factory=dict)

    @property
    def ordered_paths(self) -> list[str]:
        return sorted(set(self.values) | set(self.steps))

    def latest_value(self, path: str) -> Any:
        return copy_value(self.values.get(path))

    def history(self, path: str) -> list[TraceStep]:
        return list(self.steps.get(path, []))

    def to_data(self) -> dict[str, Any]:
        """The debug payload `{paths: [{path, value, steps}]}`, in sorted path order."""
        paths = []
        for path in self.ordered_paths:
            entry: dict[str, Any] = {"path": path}
            if path in self.values and self.values[path] is not None:
                entry["value"] = self.values[path]
            steps = self.steps.get(path)
            if steps:
                entry["steps"] = [s.to_data() for s in steps]
            paths.append(entry)
        return {"paths": paths}


def trace_layers(layers: list[Layer], merged: MergedStack) -> StackTrace:
    """Which layer set each value: a step per layer at every path it sets (policy paths for
    every layer), then the merged values written over the paths' values."""
    trace = StackTrace()
    for n, layer in enumerate(layers):
        p = layer.profile
        found = [
            *_runtime_paths(p.runtime),
            *_extension_paths(p.extensions),
            *_policy_paths(_layer_policy(p.policy)),
        ]
        for path, value in found:
            trace.values[path] = value
            trace.steps.setdefault(path, []).append(
                TraceStep(
                    layer.registry_slug, layer.profile_slug, p.metadata.version, n, path, value
                )
            )
    final = RuntimeSpec(
        step_settings_patch=merged.runtime.step_settings_patch,
        system_prompt=merged.runtime.system_prompt,
        tools=merged.runtime.tools,
    )
    for path, value in [
        *_runtime_paths(final),
        *_extension_paths(merged.extensions),
        *_policy_paths(merged.policy),
    ]:
        trace.values[path] = value
    for use, source in zip(merged.runtime.middlewares, merged.middleware_sources, strict=True):
        path = f"/runtime/middlewares/{escape_token(instance_key(use, source.index))}"
        trace.values[path] = middleware_to_data(use)
    return trace


def lineage(layers: list[Layer]) -> list[dict[str, Any]]:
    """`profile.stack.lineage`: each layer, base to leaf, with its version and source."""
    return [
        {
            "registry_slug": layer.registry_slug,
            "profile_slug": layer.profile_slug,
            "version": layer.profile.metadata.version,
            "source": layer.profile.metadata.source.strip(),
        }
        for layer in layers
    ]
