"""Fixtures shared by every test tier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared fixtures folder: $SHARED_DIR, or `shared/` beside the repository."""
    path = Path(os.environ.get("SHARED_DIR", REPO.parent / "shared"))
    if not (path / "fixtures").is_dir():
        pytest.fail(
            f"shared fixtures not found at {path}; set SHARED_DIR to the folder that "
            "holds fixtures/ (CI places it beside the repository)"
        )
    return path
