"""Shared fixtures: paths of the repository and the shared data."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
XQUAD = SHARED / "data" / "xquad-ar" / "xquad.ar.json"
ANT = SHARED / "data" / "news" / "ant-multisource.jsonl.gz"


@pytest.fixture(scope="session")
def seed_file() -> Path:
    return next(SEEDS.glob("*.txt"))
