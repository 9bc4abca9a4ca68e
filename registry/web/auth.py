"""Who may do what (see README, JSON API): the decorator every API route declares, and the actor.

Roles are ordered reader < editor < admin. `require(role, public=True)` lets anonymous callers
through when `REGISTRY_PUBLIC_READS` is true (the chat-client contract reads). With
`REGISTRY_AUTH=off` every request is allowed and the actor is "local".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g

from .deps import auth_enabled
from .tokens import authenticate

F = TypeVar("F", bound=Callable[..., Any])


def require(role: str, *, public: bool = False) -> Callable[[F], F]:
    """Declare the role a route needs; the route's metadata feeds OpenAPI and the auth matrix."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            authorize(role, public=public)
            return view(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        wrapper.public = public  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def authorize(role: str, *, public: bool = False) -> None:
    """Check the current request; sets `g.actor`. Replaced by token auth (see tokens.py)."""
    if not auth_enabled():
        g.actor = "local"
        return
    authenticate(role, public=public)


def current_actor() -> str:
    return getattr(g, "actor", "") or "anonymous"
