"""Stored data that today's rules would refuse, and its repair (`profile-registry doctor`).

Rules tighten over time; rows written before a rule (or past the service, straight into the
database) keep what the rule now refuses. Readers survive such rows (text is repaired when
read, orphan config slots are never read), but they stay wrong in the store until written
again. `examine` lists them; `repair` writes each affected item once through the service, so
every repair is an ordinary revision with actor `doctor`.

What is looked at:
- **text**: strings or keys holding NUL or a lone surrogate (read as U+FFFD; repaired by
  writing the read value back);
- **orphan config slots**: `middleware.<name>_config@v1` instances no middleware use reads
  (dropped, as every update drops them);
- **dangling default**: a registry default naming a missing profile, or no default while
  profiles exist (set to the first profile by slug, or cleared);
- **invalid**: anything else today's validation refuses; reported, not repaired (it needs a
  person's decision: edit the profile).
Registries managed by a seed file are reported, never written: fix the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import RegistryError, ValidationError
from .middleware import orphan_slots
from .model import Profile, Registry
from .service import RegistryPatch, RegistryService

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Finding:
    registry: str
    profile: str  # "" for the registry itself
    field: str
    message: str
    fixable: bool = True

    @property
    def where(self) -> str:
        return f"{self.registry}/{self.profile}" if self.profile else self.registry

    def line(self) -> str:
        return f"{self.where}: {self.field}: {self.message}"


def _profile_findings(service: RegistryService, reg: Registry, p: Profile) -> list[Finding]:
    out = [
        Finding(reg.slug, p.slug, path, "holds NUL or a lone surrogate (read as U+FFFD)")
        for path in p.repaired
    ]
    for key, slots in orphan_slots(p, service.middlewares).items():
        out.append(
            Finding(
                reg.slug,
                p.slug,
                f"profile.extensions[{key}].instances",
                "config slots no middleware use reads: " + ", ".join(slots),
            )
        )
    try:
        service.prepare_profile(p)
    except ValidationError as exc:
        out += [
            Finding(reg.slug, p.slug, e.field, f"{e.message} (edit the profile)", fixable=False)
            for e in exc.errors
        ]
    return out


def _registry_findings(reg: Registry, slugs: list[str]) -> list[Finding]:
    out = [
        Finding(reg.slug, "", path, "holds NUL or a lone surrogate (read as U+FFFD)")
        for path in reg.repaired
    ]
    default = reg.default_profile_slug
    if default and default not in slugs:
        out.append(
            Finding(
                reg.slug,
                "",
                "registry.default_profile_slug",
                f'names profile "{default}", which does not exist',
            )
        )
    elif not default and slugs:
        out.append(
            Finding(reg.slug, "", "registry.default_profile_slug", "not set while profiles exist")
        )
    return out


def examine(service: RegistryService, progress: Progress | None = None) -> list[Finding]:
    """Every finding in the store, registry by registry, profiles in slug order."""
    summaries = service.list_registries()
    total = sum(s.profile_count for s in summaries)
    done = 0
    out: list[Finding] = []
    for summary in summaries:
        reg = summary.registry
        found: list[Finding] = []
        slugs: list[str] = []
        for profile in service.iter_profiles(reg.slug):
            slugs.append(profile.slug)
            found += _profile_findings(service, reg, profile)
            done += 1
            if progress is not None:
                progress(done, total)
        found = _registry_findings(reg, slugs) + found
        if reg.is_managed:
            where = reg.manager_label
            found = [
                Finding(
                    f.registry,
                    f.profile,
                    f.field,
                    f"{f.message} (managed by {where}: fix it there)",
                    fixable=False,
                )
                for f in found
            ]
        out += found
    return out


def repair(
    service: RegistryService, findings: list[Finding], *, source: str = "cli"
) -> tuple[list[str], list[str]]:
    """Write each item with fixable findings once. Returns (what was done, what failed)."""
    done: list[str] = []
    failed: list[str] = []
    items = dict.fromkeys((f.registry, f.profile) for f in findings if f.fixable)
    for registry, profile in items:
        try:
            if profile:
                written = service.repair_profile(registry, profile, source=source)
                done.append(f"{registry}/{profile}: written as version {written.metadata.version}")
            else:
                patch = RegistryPatch()
                reg = service.get_registry(registry)
                slugs = [p.slug for p in service.iter_profiles(registry)]
                if reg.default_profile_slug not in slugs:
                    patch.default_profile_slug = slugs[0] if slugs else ""
                written_reg = service.update_registry(
                    registry, patch, actor="doctor", source=source
                )
                default = written_reg.default_profile_slug or "(none)"
                done.append(
                    f"{registry}: written as version {written_reg.metadata.version} "
                    f"(default profile {default})"
                )
        except RegistryError as exc:
            failed.append(f"{registry}{'/' + profile if profile else ''}: not repaired: {exc}")
    return done, failed
