"""A test that needs a tool this machine lacks: skipped loudly here, failed under CI=true.

CI installs every tool (.ci/run), so there a missing one is a broken CI, not a reason to pass.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def tool_missing(what: str, install: str) -> NoReturn:
    """Skip the test saying which tool is missing and how to install it; fail under CI=true."""
    message = f"NOT RUN: {what} ({install})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI=true, where every tool must be installed", pytrace=False)
    pytest.skip(message)
