"""Shared fixtures: paths of the repository and the shared data, the default model, the seed index."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import qa
from qa.embed import Embedder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
XQUAD = SHARED / "data" / "xquad-ar" / "xquad.ar.json"
ANT = SHARED / "data" / "news" / "ant-multisource.jsonl.gz"
KAIFLEMATHA = SHARED / "data" / "kaiflematha" / "kaiflematha.dev.json"


def under_ci() -> bool:
    """Whether the tests run under CI (env CI is "true" or "1"), where nothing they need may be missing."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def require(condition: bool, reason: str) -> None:
    """Skip the test when `condition` is false, or fail it under CI: a CI run must not pass by skipping.

    For what a test needs from outside the repository: ../shared data, Chromium, a server it starts.
    """
    if condition:
        return
    if under_ci():
        pytest.fail(f"{reason} (CI is set, so a missing requirement fails instead of skipping)")
    pytest.skip(reason)


def _shared(path: Path, what: str) -> Path:
    require(path.is_file(), f"{what} not present at {path}")
    return path


@pytest.fixture(scope="session")
def xquad() -> Path:
    """The shared XQuAD-ar file (SQuAD format), or a skip (a failure under CI)."""
    return _shared(XQUAD, "shared XQuAD-ar file")


@pytest.fixture(scope="session")
def ant() -> Path:
    """The shared ANT news corpus (gzipped JSON Lines), or a skip (a failure under CI)."""
    return _shared(ANT, "shared ANT corpus")


@pytest.fixture(scope="session")
def kaiflematha() -> Path:
    """The shared KaifLematha dev file, or a skip (a failure under CI)."""
    return _shared(KAIFLEMATHA, "shared KaifLematha file")


@pytest.fixture(scope="session")
def seed_file() -> Path:
    return next(SEEDS.glob("*.txt"))


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The default model, loaded once for the whole test run."""
    return Embedder()


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """The index of seeds/, built once; tests that change an index work on a copy."""
    out = tmp_path_factory.mktemp("index") / "vectors"
    qa.build_index([SEEDS], out, embedder=embedder)
    return out
