"""Shared fixtures: the committed test inputs in tests/data, the full originals in ../shared/data where that
folder exists (extra cases only, never a skip), and built avatars.

tests/data holds small redistributable copies and excerpts of the shared data (see tests/data/SOURCES.md), so a
clone alone runs every test. ../shared/data (beside the checkout, not in the repository) holds the full-size
originals and the benchmark inputs; tests that take a list of inputs add its originals to the list when it is there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TEST_DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GRID_EXCERPT = "video/v01_grid_s1_first3s.mp4"
"""The first GRID sentence (bbaf2n, 0-3 s) of ../shared/data's v01_grid_s1_concat60s.mp4, cut without re-encoding."""


def data(rel: str) -> Path:
    """Path of a committed test input under tests/data; a missing file is an error, never a skip."""
    path = TEST_DATA / rel
    if not path.exists():
        raise FileNotFoundError(f"test input {path} is missing from the repository (see tests/data/SOURCES.md)")
    return path


def shared(rel: str) -> Path:
    """Path of a file under ../shared/data (benchmark data, not in the repository); skips the test when absent."""
    path = SHARED_DATA / rel
    if not path.exists():
        pytest.skip(f"needs the benchmark data file {path} (beside the checkout, not in the repository)")
    return path


def with_shared_originals(committed: list[str], originals: list[str]) -> list[pytest.param]:
    """Test cases: the committed inputs (tests/data/REL), then the full-size originals (../shared/data/REL) that
    exist. Ids are "data/REL" and "shared/REL". A clone alone gets the committed cases only, and no skips."""
    cases = [pytest.param(data(r), id=f"data/{r}") for r in committed]
    cases += [pytest.param(SHARED_DATA / r, id=f"shared/{r}") for r in originals if (SHARED_DATA / r).exists()]
    return cases


def pytest_report_header(config) -> str:
    extra = "its full-size originals add cases" if SHARED_DATA.is_dir() else "absent: committed inputs only"
    return f"test data: {TEST_DATA}; ../shared/data: {extra}"


@pytest.fixture(scope="session")
def grid_bench_data(tmp_path_factory) -> Path:
    """A data folder laid out as eval.bench.make_bench expects (portraits/, audio/, video/v01_grid_s1_concat60s.*),
    made of links to tests/data; its GRID video is the 3-s excerpt, whose transcript lists sentence bbaf2n only."""
    from eval.bench import GRID_TSV, GRID_VIDEO

    root = tmp_path_factory.mktemp("bench_data")
    for sub in ("portraits", "audio"):
        (root / sub).symlink_to(TEST_DATA / sub, target_is_directory=True)
    (root / "video").mkdir()
    (root / GRID_VIDEO).symlink_to(data(GRID_EXCERPT))
    (root / GRID_TSV).symlink_to(data(GRID_EXCERPT.replace(".mp4", ".transcript.tsv")))
    return root


@pytest.fixture(scope="session")
def obama_path() -> Path:
    return data("portraits/p02_obama_official.jpg")


@pytest.fixture(scope="session")
def obama_avatar(obama_path):
    from vasa3d.avatar import Avatar

    return Avatar.from_image(obama_path)
