"""YAML import: plan (dry run) and apply, all or nothing (see README, Concepts and decisions).

Modes: `create-only` creates what is missing and never overwrites (existing items that differ
are reported as `skipped`); `upsert` also updates what differs; `mirror` also deletes the
profiles and registries the file lacks. Every profile runs through the same validation as the
UI and API. Imports are an admin operation: they may change profiles whose policy is
read-only (that flag guards UI/API edits), but never registries managed by another file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .content_hash import content_hash
from .diff import diff_values, profile_content, profile_diff
from .errors import (
    ConfirmationRequired,
    FieldError,
    ReadOnlyStore,
    RegistryError,
    ValidationError,
)
from .model import Profile, Registry, profile_to_data
from .packed import Pack, PackedProfile
from .ports import Store, WriteOptions
from .service import SOURCE_IMPORT, SOURCE_SEED, RegistryService
from .stacks import Key, check_topology, collect_graph, node_name, ref_target
from .yaml_codec import RegistryStream, stream_registries
from .yaml_safe import MAX_BYTES

MODES = ("create-only", "upsert", "mirror")
CREATE_BATCH = 1000  # profiles per `Store.create_profiles` call of an apply

Progress = Callable[[int, int], None]


@dataclass(slots=True)
class PlanItem:
    kind: str  # "registry" or "profile"
    registry: str
    profile: str  # "" for registry items
    action: str  # created | updated | deleted | unchanged | skipped
    changes: list[dict[str, Any]] | None = None  # the diff, when given rather than computed
    reason: str = ""  # why an item is left alone (a registry managed by a seed file)
    # a profile item's two sides (packed), diffed when the diff is first asked for: a CLI
    # import of 10,000 new profiles never shows their diffs, which cost a fifth of planning
    pair: tuple[PackedProfile | None, PackedProfile | None] | None = field(default=None, repr=False)

    @property
    def diff(self) -> list[dict[str, Any]]:
        if self.changes is None:
            if self.pair is None:
                self.changes = []
            else:
                old, new = (side.load() if side else None for side in self.pair)
                self.changes = profile_diff(old, new)
            self.pair = None
        return self.changes

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "registry": self.registry}
        if self.profile:
            out["profile"] = self.profile
        out["action"] = self.action
        out["diff"] = self.diff
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class ImportPlan:
    mode: str
    format: str
    dry_run: bool
    items: list[PlanItem] = field(default_factory=list)
    applied: bool = False
    empty_document: bool = False  # the document held no registries at all
    # what apply() needs, kept out of the public shape
    _ops: list[tuple[Any, ...]] = field(default_factory=list, repr=False)
    # (registry, slug) -> content hash of the profile as the file gave it (`content_hash`)
    _input_hashes: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(("created", "updated", "deleted", "unchanged", "skipped"), 0)
        for item in self.items:
            if item.kind == "profile":
                out[item.action] += 1
        return out

    @property
    def changes(self) -> int:
        return sum(1 for item in self.items if item.action in ("created", "updated", "deleted"))

    @property
    def deleted_registries(self) -> list[str]:
        return [i.registry for i in self.items if i.kind == "registry" and i.action == "deleted"]

    @property
    def deletions(self) -> int:
        """Registries and profiles the plan deletes (profiles inside deleted registries too):
        the number a mirror apply must be confirmed with."""
        return sum(1 for item in self.items if item.action == "deleted")

    def deletions_data(self) -> dict[str, Any]:
        registries = self.deleted_registries
        return {
            "total": self.deletions,
            "registries": registries,
            "profiles": self.deletions - len(registries),
        }

    def deletion_summary(self) -> str:
        """ "2 registries (default, team) and 4 profiles", for messages and banners."""
        registries = self.deleted_registries
        profiles = self.deletions - len(registries)
        parts = []
        if registries:
            parts.append(
                f"{_plural(len(registries), 'registry', 'registries')} ({', '.join(registries)})"
            )
        if profiles or not registries:
            parts.append(_plural(profiles, "profile", "profiles"))
        return " and ".join(parts)

    def to_data(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "format": self.format,
            "dry_run": self.dry_run,
            "applied": self.applied,
            "empty_document": self.empty_document,
            "counts": self.counts(),
            "deletions": self.deletions_data(),
            "items": [i.to_data() for i in self.items],
        }


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _header(reg: Registry) -> dict[str, Any]:
    out: dict[str, Any] = {
        "display_name": reg.display_name,
        "description": reg.description,
        "default_profile_slug": reg.default_profile_slug,
        "extensions": reg.extensions,
    }
    if reg.metadata.tags:
        out["tags"] = reg.metadata.tags
    return out


def prepare_document(
    service: RegistryService, registries: list[Registry], *, strict: bool = False
) -> list[tuple[Registry, dict[str, Profile]]]:
    """Run every registry and profile of a document through the service's validation.

    Raises one `ValidationError` with every problem, paths rooted at the document
    (`registries[default].profiles[agent].runtime.tools[0]`). The document's profiles are
    normalized in place: a decoded document is nobody else's, and a copy of each profile
    was a tenth of a bulk import's time.
    """
    return [(h, p) for h, p, _ in iter_prepared(service, registries, strict=strict)]


Prepared = tuple[Registry, dict[str, Profile], set[str]]


def iter_prepared(
    service: RegistryService,
    registries: Iterable[Registry],
    *,
    strict: bool = False,
    stored_hashes: Callable[[str], dict[str, tuple[str, str]]] | None = None,
    input_hashes: dict[tuple[str, str], str] | None = None,
) -> Iterator[Prepared]:
    """`prepare_document` one registry at a time, for bulk readers that keep only what they
    need of each (a `RegistryStream` then never holds the document whole). Once a problem
    is found nothing more is yielded; the iteration ends by raising every problem (after
    those of decoding, which the stream raises first).

    With `stored_hashes` (registry -> `Store.profile_hashes`), the slugs of the profiles
    whose content hash under today's rules equals the stored content or input hash: those
    are unchanged and skip validation (`content_hash`), so they are not among the prepared
    profiles. `input_hashes` receives (registry, slug) -> that hash of every prepared
    profile, for the write."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    rules = service.rules_digest if stored_hashes is not None else ""
    for raw in registries:
        prefix = f"registries[{raw.slug}]"
        try:
            header = service.prepare_registry_header(raw)
        except ValidationError as exc:
            errors += [e.rerooted(prefix) for e in exc.errors]
            continue
        if header.slug in seen:
            errors.append(FieldError(prefix, "registry appears twice in the file"))
            continue
        seen.add(header.slug)
        hashes = stored_hashes(header.slug) if stored_hashes is not None else {}
        profiles: dict[str, Profile] = {}
        unchanged: set[str] = set()
        for key in sorted(raw.profiles):
            ppath = f"{prefix}.profiles[{key}]"
            incoming = raw.profiles[key]
            given = content_hash(profile_to_data(incoming, shared=True), rules) if rules else ""
            if given and given in hashes.get(incoming.slug, ()):
                unchanged.add(incoming.slug)  # the slug is canonical: it is in the content
                continue
            try:
                p = service.prepare_profile(incoming, strict=strict, owned=True)
            except ValidationError as exc:
                errors += [e.rerooted(ppath) for e in exc.errors]
                continue
            if p.slug in profiles or p.slug in unchanged:
                errors.append(FieldError(ppath, f'duplicate profile slug "{p.slug}"'))
                continue
            profiles[p.slug] = p
            if input_hashes is not None and given:
                input_hashes[(header.slug, p.slug)] = given
        if not errors:
            yield header, profiles, unchanged
    if errors:
        raise ValidationError(errors)


def check_defaults(prepared: list[tuple[Registry, dict[str, Profile]]]) -> list[FieldError]:
    """A document on its own: each registry with profiles names an existing default."""
    errors = []
    for header, profiles in prepared:
        path = f"registries[{header.slug}].default_profile_slug"
        if profiles and not header.default_profile_slug:
            errors.append(FieldError(path, "must be set when profiles are present"))
        elif header.default_profile_slug and header.default_profile_slug not in profiles:
            errors.append(FieldError(path, "default profile does not exist in registry"))
    return errors


def plan_import(
    service: RegistryService,
    registries: Sequence[Registry] | RegistryStream,
    mode: str,
    *,
    fmt: str = "bundle",
    dry_run: bool = False,
    managed_by: str = "",
    delete_missing_registries: bool = True,
) -> ImportPlan:
    """Validate everything and work out what would change (nothing is written).

    `delete_missing_registries=False` limits `mirror` to the registries in the file (used to
    seed registries managed by a file).
    """
    if mode not in MODES:
        raise ValidationError(FieldError("mode", f"must be one of {', '.join(MODES)}"))
    store = _store_of(service)
    plan = ImportPlan(mode=mode, format=fmt, dry_run=dry_run, empty_document=len(registries) == 0)
    existing = {r.slug: r for r in store.list_registries()}
    hashes: dict[str, dict[str, tuple[str, str]]] = {}

    def stored_hashes(slug: str) -> dict[str, tuple[str, str]]:
        if slug in existing:
            hashes[slug] = store.profile_hashes(slug)
        return hashes.get(slug, {})

    prepared = iter_prepared(
        service, registries, stored_hashes=stored_hashes, input_hashes=plan._input_hashes
    )
    seen: set[str] = set()
    # Each registry is planned as soon as it is prepared (and its profiles packed), so a
    # large document is never held whole. A planning refusal waits until every registry is
    # prepared: the document's own problems are reported first, as when it was planned only
    # once fully validated.
    refused: RegistryError | None = None
    for header, profiles, unchanged in prepared:
        seen.add(header.slug)
        if refused is not None:
            continue
        current = existing.get(header.slug)
        stored = hashes.get(header.slug, {})
        try:
            if current is not None and _managed_elsewhere(current, managed_by):
                _plan_managed(service, plan, header, profiles, current, unchanged, stored)
            else:
                _plan_registry(
                    service, plan, header, profiles, current, managed_by, unchanged, stored
                )
        except RegistryError as exc:
            refused = exc
    if refused is not None:
        raise refused
    deleted_registries: set[str] = set()
    if mode == "mirror" and delete_missing_registries:
        for slug in sorted(set(existing) - seen):
            current = existing[slug]
            if _managed_elsewhere(current, managed_by):
                # Deleting it would only last until the next start re-seeds it from its file,
                # so mirror leaves it to that file (and says so) instead of refusing.
                reason = f"{_manager(current)}; mirror imports leave it to its file"
                plan.items.append(PlanItem("registry", slug, "", "skipped", reason=reason))
                continue
            plan.items.append(PlanItem("registry", slug, "", "deleted"))
            plan._ops.append(("delete_registry", current))
            # its profiles go with it (one store operation): listed and counted, so the plan
            # says how much the mirror deletes
            pack = Pack()
            for profile in sorted(store.iter_profiles(slug), key=lambda p: p.slug):
                plan.items.append(
                    PlanItem(
                        "profile", slug, profile.slug, "deleted", pair=(pack.add(profile), None)
                    )
                )
            pack.seal()
            deleted_registries.add(slug)
    _check_stacks(store, plan, set(existing) - deleted_registries)
    return plan


def _check_stacks(store: Store, plan: ImportPlan, remaining: set[str]) -> None:
    """The stacks of the store as the plan would leave it: every profile the plan writes
    passes the write-time topology check against the file and the store together (so refs
    between registries of one file resolve), and nothing the plan deletes is still stacked on.
    `remaining`: the stored registries the plan keeps."""
    final: dict[str, dict[str, PackedProfile]] = {}  # registries of the file, as they will be
    for op in plan._ops:
        if op[0] in ("create_profile", "update_profile"):
            final.setdefault(op[1], {})[op[2].slug] = op[2]
    deleted = {(op[1], op[2]) for op in plan._ops if op[0] == "delete_profile"}
    written = sorted(final)
    exists = remaining | {
        i.registry for i in plan.items if i.kind == "registry" and i.action != "deleted"
    }

    def fetch(keys: list[Key]) -> dict[Key, Profile]:
        out = {k: final[k[0]][k[1]].load() for k in keys if k[1] in final.get(k[0], {})}
        rest = [k for k in keys if k not in out and k not in deleted and k[0] in exists]
        out.update(store.get_profiles(rest) if rest else {})
        return out

    errors: list[FieldError] = []
    for registry in written:
        for slug in sorted(final[registry]):
            packed = final[registry][slug]
            if not packed.stacked:
                continue
            key = (registry, slug)
            graph = collect_graph({key: packed.load()}, fetch)
            errors += check_topology(
                key,
                graph,
                registry_exists=exists.__contains__,
                field_of=_ref_field(registry, slug),
            )
    gone = sorted(deleted) + [(r, "") for r in sorted(set(_stored_registries(store)) - exists)]
    if gone and not errors:
        for registry, slug in gone:
            for dep_registry, dep in store.find_dependants(registry, slug or None):
                key = (dep_registry, dep.slug)
                if key in deleted or dep_registry not in exists:
                    continue  # goes too
                if dep.slug in final.get(dep_registry, {}):
                    continue  # rewritten by the plan: checked above
                for i, ref in enumerate(dep.stack):
                    target = ref_target(ref, dep_registry)
                    if target == (registry, slug) or (not slug and target[0] == registry):
                        errors.append(
                            FieldError(
                                f"registries[{dep_registry}].profiles[{dep.slug}].stack[{i}]",
                                f"stacks on {node_name(target)}, which the import deletes",
                            )
                        )
    for packs in final.values():  # what the checks read back goes again until the apply
        for packed in packs.values():
            packed.pack.release()
    if errors:
        raise ValidationError(errors)


def _ref_field(registry: str, slug: str) -> Callable[[int], str]:
    return lambda i: f"registries[{registry}].profiles[{slug}].stack[{i}]"


def _stored_registries(store: Store) -> list[str]:
    return [r.slug for r in store.list_registries()]


def _managed_elsewhere(reg: Registry, managed_by: str) -> bool:
    """True for a registry owned by a seed file (or configuration) other than `managed_by`."""
    return reg.is_managed and reg.managed_by != managed_by


def _manager(reg: Registry) -> str:
    return f"managed by {reg.manager_label}"


def _plan_managed(
    service: RegistryService,
    plan: ImportPlan,
    header: Registry,
    profiles: dict[str, Profile],
    current: Registry,
    unchanged: set[str],
    stored: dict[str, tuple[str, str]],
) -> None:
    """A registry another file manages: fine when the document leaves it as it is (an export
    of the whole store holds it), refused (403 naming the file) when it would change it."""
    scratch = ImportPlan(mode=plan.mode, format=plan.format, dry_run=plan.dry_run)
    header.read_only, header.managed_by = current.read_only, current.managed_by
    _plan_registry(service, scratch, header, profiles, current, "", unchanged, stored)
    if scratch._ops:
        changes = [i for i in scratch.items if i.action in ("created", "updated", "deleted")]
        listed = ", ".join(
            f"{i.action} {'profile ' + i.profile if i.profile else 'registry'}" for i in changes[:3]
        )
        more = f" and {len(changes) - 3} more" if len(changes) > 3 else ""
        raise ReadOnlyStore(
            f'registry "{current.slug}" is {_manager(current)}; the import would change it '
            f"({listed}{more})"
        )
    for item in scratch.items:
        if item.kind == "registry":
            item.reason = f"{_manager(current)}; left to its file"
    plan.items += scratch.items


def _plan_registry(
    service: RegistryService,
    plan: ImportPlan,
    header: Registry,
    profiles: dict[str, Profile],
    current: Registry | None,
    managed_by: str,
    unchanged: set[str],
    hashes: dict[str, tuple[str, str]],
) -> None:
    """Plan one registry of the file. `hashes`: slug -> content hash of every stored profile
    (`Store.profile_hashes`); `unchanged`: incoming slugs whose hash matched. Only the
    stored profiles the plan compares or deletes are read."""
    store = _store_of(service)
    mode = plan.mode
    slug = header.slug
    if managed_by:
        header.read_only, header.managed_by = True, managed_by
    incoming = set(profiles) | unchanged
    gone = sorted(set(hashes) - incoming) if mode == "mirror" else []
    wanted = [(slug, s) for s in sorted(profiles) if s in hashes] + [(slug, s) for s in gone]
    stored = {key[1]: p for key, p in store.get_profiles(wanted).items()} if wanted else {}
    final = incoming | (set() if mode == "mirror" else set(hashes))

    default = header.default_profile_slug
    if not default and current is not None and current.default_profile_slug in final:
        default = current.default_profile_slug
    if mode == "create-only" and current is not None:
        default = current.default_profile_slug or default
    if final and not default:
        raise ValidationError(
            FieldError(
                f"registries[{slug}].default_profile_slug", "must be set when profiles are present"
            )
        )
    if default and default not in final:
        raise ValidationError(
            FieldError(
                f"registries[{slug}].default_profile_slug",
                "default profile does not exist in registry",
            )
        )
    header.default_profile_slug = default

    if current is None:
        plan.items.append(
            PlanItem("registry", slug, "", "created", diff_values({}, _header(header)))
        )
        plan._ops.append(("create_registry", header))
    else:
        changes = diff_values(_header(current), _header(header))
        state_changed = (current.read_only, current.managed_by) != (
            header.read_only,
            header.managed_by,
        )
        if not changes and not state_changed:
            plan.items.append(PlanItem("registry", slug, "", "unchanged"))
        elif mode == "create-only":
            plan.items.append(PlanItem("registry", slug, "", "skipped", changes))
        else:
            plan.items.append(PlanItem("registry", slug, "", "updated", changes))
            updated = current.clone()
            for name in ("display_name", "description", "default_profile_slug", "extensions"):
                setattr(updated, name, getattr(header, name))
            updated.metadata.tags = list(header.metadata.tags)
            updated.read_only, updated.managed_by = header.read_only, header.managed_by
            plan._ops.append(("update_registry", updated))

    pack = Pack()  # what the plan keeps of the profiles, until it is applied or shown
    for pslug in sorted(incoming):
        if pslug in unchanged:
            plan.items.append(PlanItem("profile", slug, pslug, "unchanged"))
            continue
        new = profiles[pslug]
        old = stored.get(pslug)
        if old is None:
            packed = pack.add(new)
            plan.items.append(PlanItem("profile", slug, pslug, "created", pair=(None, packed)))
            plan._ops.append(("create_profile", slug, packed))
        elif profile_content(old) == profile_content(new):
            plan.items.append(PlanItem("profile", slug, pslug, "unchanged"))
        elif mode == "create-only":
            pair = (pack.add(old), pack.add(new))
            plan.items.append(PlanItem("profile", slug, pslug, "skipped", pair=pair))
        else:
            pair = (pack.add(old), pack.add(new))
            plan.items.append(PlanItem("profile", slug, pslug, "updated", pair=pair))
            plan._ops.append(("update_profile", slug, pair[1], old.metadata.version))
    if mode == "mirror":
        for pslug in gone:
            gone_pair = (pack.add(stored[pslug]), None)
            plan.items.append(PlanItem("profile", slug, pslug, "deleted", pair=gone_pair))
            plan._ops.append(("delete_profile", slug, pslug, stored[pslug].metadata.version))
    pack.seal()


def apply_plan(
    service: RegistryService,
    plan: ImportPlan,
    *,
    actor: str = "",
    source: str = SOURCE_IMPORT,
    progress: Progress | None = None,
) -> ImportPlan:
    """Write the plan in one transaction: every change lands or none does.

    `source` is recorded in `metadata.source` of what is updated, and of what is created
    unless the file declares a source (declared metadata is kept, like versions)."""
    store = _store_of(service)
    rules = service.rules_digest  # what every profile of the plan passed
    by_registry: dict[str, dict[str, str]] = {}
    for (reg_slug, slug), hashed in plan._input_hashes.items():
        by_registry.setdefault(reg_slug, {})[slug] = hashed

    def given(op_registry: Any) -> dict[str, str]:
        return by_registry.get(str(getattr(op_registry, "slug", op_registry)), {})

    total = len(plan._ops)
    # Registry headers are written before profiles are created, and updated (new default)
    # before profiles are deleted, so the default always names a profile that exists.
    order = {"create_registry": 0, "create_profile": 1, "update_profile": 1, "update_registry": 2}
    ops = sorted(plan._ops, key=lambda op: order.get(op[0], 3))
    unpacked: tuple[Pack | None, list[Profile]] = (None, [])

    def profile(packed: PackedProfile) -> Profile:
        """Each pack read back once, when its first op is applied (ops follow pack order)."""
        nonlocal unpacked
        if unpacked[0] is not packed.pack:
            unpacked = (packed.pack, packed.pack.load(keep=False))
        return unpacked[1][packed.index]

    with store.atomic():
        done = 0
        for run in _runs(ops):
            kind = run[0][0]
            if kind == "create_profile":
                store.create_profiles(
                    run[0][1],
                    [profile(op[2]) for op in run],
                    WriteOptions(
                        actor=actor,
                        source=source,
                        keep_metadata=True,
                        operation="import",
                        rules=rules,
                        input_hashes=given(run[0][1]),
                    ),
                )
            else:
                op = run[0]
                if kind == "update_profile":
                    op = (kind, op[1], profile(op[2]), *op[3:])
                _apply_one(store, op, actor, source, rules, given(op[1]))
            done += len(run)
            if progress:
                progress(done, total)
        counts: dict[str, int] = {}
        for op in ops:
            verb, kind = op[0].split("_", 1)
            key = f"{'registries' if kind == 'registry' else 'profiles'}_{verb}d"
            counts[key] = counts.get(key, 0) + 1
        touched = sorted({op[1].slug if hasattr(op[1], "slug") else str(op[1]) for op in ops})
        store.notify(
            "import.completed",
            tuple(touched),
            {"actor": actor, "source": source, "registries": touched, "counts": counts},
        )
    plan.applied = True
    return plan


def _runs(ops: list[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    """The ops in order, consecutive creates of one registry grouped (at most `CREATE_BATCH`
    each, so progress keeps moving) for one `create_profiles` call; every other op alone.
    Grouping only consecutive ones keeps the change feed in the one-by-one order."""
    run: list[tuple[Any, ...]] = []
    for op in ops:
        if run and (op[0] != "create_profile" or op[1] != run[0][1] or len(run) >= CREATE_BATCH):
            yield run
            run = []
        if op[0] == "create_profile":
            run.append(op)
        else:
            yield [op]
    if run:
        yield run


def _apply_one(
    store: Store,
    op: tuple[Any, ...],
    actor: str,
    source: str,
    rules: str,
    input_hashes: dict[str, str],
) -> None:
    kind = op[0]
    if kind == "create_registry":
        store.create_registry(
            op[1],
            WriteOptions(actor=actor, source=source, keep_metadata=True, operation="import"),
        )
    elif kind == "update_registry":
        store.update_registry(
            op[1],
            WriteOptions(
                expected_version=op[1].metadata.version,
                actor=actor,
                source=source,
                operation="import",
            ),
        )
    elif kind == "update_profile":
        store.update_profile(
            op[1],
            op[2],
            WriteOptions(
                expected_version=op[3],
                actor=actor,
                source=source,
                operation="import",
                rules=rules,
                input_hashes=input_hashes,
            ),
        )
    elif kind == "delete_profile":
        store.delete_profile(
            op[1],
            op[2],
            WriteOptions(expected_version=op[3], actor=actor, source=source, operation="import"),
        )
    elif kind == "delete_registry":
        store.delete_registry(
            op[1].slug,
            WriteOptions(
                expected_version=op[1].metadata.version,
                actor=actor,
                source=source,
                operation="import",
            ),
        )


def import_yaml(
    service: RegistryService,
    text: str,
    *,
    mode: str = "upsert",
    dry_run: bool = False,
    actor: str = "",
    managed_by: str = "",
    max_bytes: int | None = None,
    progress: Progress | None = None,
    seed: bool = False,
    confirm: int | None = None,
) -> ImportPlan:
    """Decode, validate, plan and (unless `dry_run`) apply a YAML document.

    `seed` limits `mirror` to the file's own registries (start-up seeding of managed files) and
    records the writes with source `seed` instead of `import`.

    A `mirror` apply that deletes anything needs `confirm` equal to `plan.deletions` (the
    registries and profiles it deletes, as the dry run showed them); otherwise it raises
    `ConfirmationRequired` listing what would go, and writes nothing. Seeding a managed file
    is exempt (the file's owner decides; it never deletes other registries).
    """
    doc = stream_registries(text, service.default_registry, max_bytes=max_bytes or MAX_BYTES)
    plan = plan_import(
        service,
        doc,
        mode,
        fmt=doc.format,
        dry_run=dry_run,
        managed_by=managed_by,
        delete_missing_registries=not seed,
    )
    if dry_run or not plan._ops:
        return plan
    if plan.deletions and not seed and confirm != plan.deletions:
        raise confirmation_required(plan, confirm)
    source = SOURCE_SEED if seed else SOURCE_IMPORT
    return apply_plan(service, plan, actor=actor, source=source, progress=progress)


EXPORT_FORMATS = ("yaml", "json")
MAX_LISTED = 50  # deletions listed one by one in a refusal; the rest are counted


def confirmation_required(plan: ImportPlan, confirm: int | None) -> ConfirmationRequired:
    """The refusal of an unconfirmed (or wrongly confirmed) deleting apply: what would go."""
    what = plan.deletion_summary()
    if plan.empty_document:
        lead = f"the document holds no registries: a mirror of it deletes {what}"
    else:
        lead = f"this mirror import deletes {what}"
    if confirm is None:
        message = (
            f"{lead}; nothing was written. To apply it, confirm "
            f"{_plural(plan.deletions, 'deletion', 'deletions')} (confirm={plan.deletions})"
        )
    else:
        message = (
            f"{lead}; confirm={confirm} does not match its "
            f"{_plural(plan.deletions, 'deletion', 'deletions')}, nothing was written. "
            "Run a dry run to review them again"
        )
    errors = []
    for item in plan.items:
        if item.action != "deleted":
            continue
        if item.kind == "registry":
            inside = sum(
                1
                for i in plan.items
                if i.kind == "profile" and i.registry == item.registry and i.action == "deleted"
            )
            errors.append(
                FieldError(
                    f"registries[{item.registry}]",
                    f"would be deleted with its {_plural(inside, 'profile', 'profiles')}"
                    if inside
                    else "would be deleted (it has no profiles)",
                )
            )
        elif item.registry not in plan.deleted_registries:
            errors.append(
                FieldError(
                    f"registries[{item.registry}].profiles[{item.profile}]", "would be deleted"
                )
            )
    if len(errors) > MAX_LISTED:
        rest = len(errors) - MAX_LISTED
        errors = [*errors[:MAX_LISTED], FieldError("", f"and {rest} more would be deleted")]
    return ConfirmationRequired(message, plan.deletions, errors, plan)


def export_yaml(
    service: RegistryService, registry: str | None = None, *, format: str = "yaml"
) -> str:
    """The canonical bundle of one registry or of the whole store, as YAML or JSON."""
    return "".join(iter_export(service, registry, format=format))


def iter_export(
    service: RegistryService, registry: str | None = None, *, format: str = "yaml"
) -> Iterator[str]:
    """`export_yaml` in pieces, one registry at a time (the same bytes joined): a writer
    streams them to a file or stdout instead of holding the whole text, and only one
    registry's profiles are in memory at once."""
    from .yaml_codec import encode_registries, encode_registries_json

    if registry is not None:
        headers = [service.get_registry(registry)]
    else:
        headers = [s.registry for s in service.list_registries()]
    headers.sort(key=lambda r: r.slug)
    if not headers:
        empty: list[Registry] = []
        yield encode_registries_json(empty) if format == "json" else encode_registries(empty)
        return
    for i, header in enumerate(headers):
        reg = header.clone()
        reg.profiles = {p.slug: p for p in _store_of(service).iter_profiles(reg.slug)}
        if format == "json":
            # the registry's entry of the bundle, indented as inside it (JSON strings escape
            # newlines, so every raw newline is structure)
            text = encode_registries_json([reg])
            inner = text[len('{\n  "registries": {\n') : -len("\n  }\n}\n")]
            yield ('{\n  "registries": {\n' if i == 0 else ",\n") + inner
            if i == len(headers) - 1:
                yield "\n  }\n}\n"
        else:
            text = encode_registries([reg])  # "registries:\n  <slug>:\n..." in block style
            yield text if i == 0 else text[len("registries:\n") :]


def _store_of(service: RegistryService) -> Store:
    """The service's private store. Imports are the service's bulk use case (plans over whole
    registries, an all-or-nothing apply in one transaction), so they may reach it from inside
    the domain; nothing outside `registry/domain` does (tests/test_one_door.py checks)."""
    return service._store
