"""The profile editor's form: a profile -> the form data it posts, posted data -> a patch.

Field names (the schema-form convention: prefix + `/path`, arrays by index, `@bool`/`@array`
markers, see `registry.forms`):

- `display_name`, `description`, `system_prompt`; string lists `tools/<i>`, `tags/<i>`,
  `policy/allowed_override_keys/<i>`, `policy/denied_override_keys/<i>`; checkboxes
  `policy/allow_overrides`, `policy/read_only`;
- `step_settings_patch` (raw JSON), or `step/...` when a step-settings schema is configured;
- `mw/<i>/name|id|enabled` (+ `enabled@orig`: the stored tri-state, so "absent" survives) and
  `mw/<i>/config/...` (the config form of that use, from its definition's schema);
- `ext/<key>/...` (+ `ext/<key>@present`): one form per known codec; `xraw/<key>`: unknown keys
  as JSON; `ext_removed`: keys the user removed. `middleware.*_config@v1` keys are edited on
  their middleware rows only.

Rules that keep data safe: a group of fields missing from the post (hand-made or stale forms)
means "unchanged" (it is filled from the current profile); a section whose posted value equals
what the untouched form would post keeps the stored value exactly (so form round trips never
rewrite data); extension keys are dropped only when listed in `ext_removed`.

Modules, by job: `model` (field names, rows, the form), `form_data` (profile -> posted data),
`fields` (reading posted fields), `rows` (middleware and extension rows), `read` (the whole post
-> form + patch), `errors` (errors beside their fields), `ops` (the editor's buttons),
`validation` (the service's validation, attached), `summary` (the error summary's links).
Pure Python: no Flask (werkzeug's MultiDict only), so it sits below `registry.web` with the
other forms.
"""

from .errors import attach_errors
from .form_data import form_data
from .model import EditorForm
from .ops import apply_editor_op
from .read import read_form
from .summary import InvalidField, invalid_fields
from .validation import validate

__all__ = [
    "EditorForm",
    "InvalidField",
    "apply_editor_op",
    "attach_errors",
    "form_data",
    "invalid_fields",
    "read_form",
    "validate",
]
