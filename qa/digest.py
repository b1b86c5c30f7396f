"""The sha256 of files and texts: the one way qa hashes what it stores and loads."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["file_sha256", "text_sha256"]

# Large enough that hashing a model's weights costs few Python calls, small enough to stay cheap.
_BLOCK = 1 << 22


def file_sha256(path: str | Path) -> str:
    """The hex sha256 of a file's bytes, read in blocks so a large file never sits in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    """The hex sha256 of a text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
