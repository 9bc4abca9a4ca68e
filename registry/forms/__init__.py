"""JSON Schema driven forms: schema + value -> widget tree; posted form -> JSON value.

Pure Python on purpose (no WTForms classes): the editors are generated at request time from
schemas that deployments configure, and the same tree renders a page, an htmx fragment, or a
single re-validated field. Templates in `templates/_macros/schema_form.html` draw the tree.
"""

from .schema_form import (
    FormErrors,
    Widget,
    build_widget,
    errors_from_fields,
    parse_form,
)

__all__ = ["FormErrors", "Widget", "build_widget", "errors_from_fields", "parse_form"]
