"""Reach a service of a built app by its type, as its routes do (svcs)."""

from __future__ import annotations

from typing import TypeVar

import svcs

T = TypeVar("T")


def service(app, kind: type[T]) -> T:
    """The app's registered `kind` (e.g. its Store)."""
    return svcs.Container(svcs.flask.get_registry(app)).get(kind)
