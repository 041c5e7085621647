"""Integration fixtures: the whole local stack, started fresh for each test."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.harness import LocalStack


@pytest.fixture
def stack_factory():
    """Start a LocalStack with the given options; every one started is stopped after the test."""
    started: list[LocalStack] = []

    def start(**options) -> LocalStack:
        stack = LocalStack(**options)
        started.append(stack)
        stack.start()
        return stack

    yield start
    for stack in reversed(started):
        stack.stop()


@pytest.fixture
def catalog(tmp_path: Path):
    """Write a generated CommerceML catalog of `skus` offers; returns its files."""
    from local.catalog import write_catalog

    def make(skus: int, name: str = "catalog", **options) -> list[Path]:
        return write_catalog(tmp_path / name, skus=skus, **options)

    return make
