"""qa.digest against hashlib on whole bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from qa.digest import file_sha256, text_sha256


@pytest.mark.parametrize(
    "size",
    [0, 1, (1 << 22) - 1, 1 << 22, (1 << 22) + 3],
    ids=["empty", "one byte", "one block less a byte", "one block", "past one block"],
)
def test_file_sha256_is_the_sha256_of_the_whole_file(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    file = tmp_path / "data.bin"
    file.write_bytes(data)
    assert file_sha256(file) == hashlib.sha256(data).hexdigest()
    assert file_sha256(str(file)) == file_sha256(file)


def test_file_sha256_of_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        file_sha256(tmp_path / "absent")


@pytest.mark.parametrize("text", ["", "passage", "أسعار النفط", "Café ２０１８"])
def test_text_sha256_hashes_the_utf8_bytes(text: str, tmp_path: Path) -> None:
    assert text_sha256(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    file = tmp_path / "text.txt"
    file.write_bytes(text.encode("utf-8"))
    assert text_sha256(text) == file_sha256(file)
