"""Validation shared by save and the per-field endpoint: the service's own (the API's)."""

from __future__ import annotations

from registry.domain.errors import FieldError, ValidationError
from registry.domain.model import Profile
from registry.domain.service import RegistryService

from .errors import attach_errors
from .model import EditorForm


def validate(
    service: RegistryService, form: EditorForm, current: Profile, registry: str = ""
) -> list[FieldError]:
    """The service's validation of the edited profile (the same as the API's), attached;
    with `registry`, a changed stack's topology too (cycles, missing bases)."""
    try:
        prepared = service.prepare_update(current, form.patch)
        if registry and prepared.stack != current.stack:
            service.check_stack(registry, prepared)
    except ValidationError as exc:
        attach_errors(form, exc.errors)
        return exc.errors
    return []
