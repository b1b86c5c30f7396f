"""Shared fixtures: paths of the repository and the shared data, the default model, the seed index."""

from __future__ import annotations

from pathlib import Path

import pytest

import qa
from qa.embed import Embedder

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
XQUAD = SHARED / "data" / "xquad-ar" / "xquad.ar.json"
ANT = SHARED / "data" / "news" / "ant-multisource.jsonl.gz"


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
