"""Shared fixtures: the real inputs in ../shared/data (skipped when absent) and built avatars."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared(rel: str) -> Path:
    """Path of a file under ../shared/data; skips the test when it is not there."""
    path = SHARED_DATA / rel
    if not path.exists():
        pytest.skip(f"shared data file {path} not available")
    return path


@pytest.fixture(scope="session")
def obama_path() -> Path:
    return shared("portraits/p02_obama_official.jpg")


@pytest.fixture(scope="session")
def obama_avatar(obama_path):
    from vasa3d.avatar import Avatar

    return Avatar.from_image(obama_path)
