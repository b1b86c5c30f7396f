"""Faults: a damaged index is refused at load with a message that says to rebuild, and a killed build never harms the index in use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import qa
from qa.cli import main
from qa.config import INDEX_FORMAT
from qa.embed import Embedder
from qa.errors import IndexStoreError
from qa.stores.generations import CURRENT, MANIFEST, STORE
from tests.conftest import ANT, ROOT, SEEDS, require

pytestmark = pytest.mark.slow

QUESTION = "متى يزور أولوند موسكو؟"


def _generation(out: Path) -> Path:
    return out / (out / CURRENT).read_text(encoding="utf-8").strip()


def _flip(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _edit(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def damage(out: Path) -> None:
        path = _generation(out) / MANIFEST
        manifest = json.loads(path.read_text(encoding="utf-8"))
        change(manifest)
        path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")

    return damage


def _older_layout(out: Path) -> None:
    """The layout before generations: the index files directly in the folder, no CURRENT."""
    folder = _generation(out)
    for file in folder.iterdir():
        file.rename(out / file.name)
    folder.rmdir()
    (out / CURRENT).unlink()


def _set(keys: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(manifest: dict[str, Any]) -> None:
        for key in keys[:-1]:
            manifest = manifest[key]
        if value is _DELETE:
            del manifest[keys[-1]]
        elif callable(value):
            manifest[keys[-1]] = value(manifest[keys[-1]])
        else:
            manifest[keys[-1]] = value

    return change


_DELETE = object()

DAMAGES: dict[str, Callable[[Path], None]] = {
    "faiss file truncated": lambda out: _truncate(_generation(out) / "index.faiss"),
    "faiss file, one byte flipped": lambda out: _flip(_generation(out) / "index.faiss", 0.9),
    "store, one byte flipped": lambda out: _flip(_generation(out) / STORE),
    "store truncated": lambda out: _truncate(_generation(out) / STORE),
    "manifest missing": lambda out: (_generation(out) / MANIFEST).unlink(),
    "manifest, invalid JSON": lambda out: _truncate(_generation(out) / MANIFEST),
    "manifest, not an object": lambda out: (_generation(out) / MANIFEST).write_text("[]", encoding="utf-8"),
    "manifest, passage count changed": _edit(_set(("counts", "passages"), lambda n: n + 1)),
    "manifest, article count changed": _edit(_set(("counts", "articles"), lambda n: n + 1)),
    "manifest, index size changed": _edit(_set(("index", "size"), lambda n: n - 1)),
    "manifest, passage count a string": _edit(_set(("counts", "passages"), "5")),
    "manifest, a checksum changed": _edit(_set(("files", STORE, "sha256"), "0" * 64)),
    "manifest, a size changed": _edit(_set(("files", "index.faiss", "bytes"), lambda n: n + 1)),
    "manifest, a file's entry removed": _edit(_set(("files", "index.faiss"), _DELETE)),
    "manifest, a file entry outside the folder": _edit(_set(("files", "../CURRENT"), {"bytes": 0, "sha256": "0" * 64})),
    "manifest, a file entry not an object": _edit(_set(("files", STORE), "ok")),
    "manifest, model removed": _edit(_set(("model",), _DELETE)),
    "manifest, model name not a string": _edit(_set(("model", "name"), 5)),
    "manifest, chunking removed": _edit(_set(("chunking",), _DELETE)),
    "manifest, format removed": _edit(_set(("format",), _DELETE)),
    "CURRENT names a missing folder": lambda out: (out / CURRENT).write_text("gen-20990101T000000-deadbeef\n", encoding="utf-8"),
    "CURRENT names a folder outside": lambda out: (out / CURRENT).write_text("../elsewhere\n", encoding="utf-8"),
    "CURRENT holds binary garbage": lambda out: (out / CURRENT).write_bytes(b"\xff\xfe\x00gen-\x81"),
    "CURRENT empty": lambda out: (out / CURRENT).write_bytes(b""),
    "older format number": _edit(_set(("format",), INDEX_FORMAT - 1)),
    "older layout (no CURRENT, manifest at the top)": _older_layout,
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damage_is_refused_at_load_and_by_the_cli_with_the_rebuild_command(
    damage: str, seed_index: Path, tmp_path: Path, embedder: Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "vectors"
    shutil.copytree(seed_index, out)
    DAMAGES[damage](out)
    with pytest.raises(IndexStoreError) as refused:
        qa.Retriever.load(out, embedder=embedder)
    assert "qa build" in str(refused.value) and "\n" not in str(refused.value)
    capsys.readouterr()
    code = main(["search", QUESTION, "--index", str(out)])
    printed = capsys.readouterr()
    assert code == 1 and printed.out == ""  # nothing is served
    assert printed.err.startswith("qa: error: ") and printed.err.count("\n") == 1 and "qa build" in printed.err, printed.err


def test_every_listed_file_damaged_is_refused(seed_index: Path, tmp_path: Path, embedder: Embedder) -> None:
    names = json.loads((_generation(seed_index) / MANIFEST).read_text(encoding="utf-8"))["files"]
    assert len(names) >= 3
    for name in names:
        for hurt in (_flip, _truncate):
            out = tmp_path / f"{hurt.__name__}-{name}"
            shutil.copytree(seed_index, out)
            hurt(_generation(out) / name)
            with pytest.raises(IndexStoreError, match="qa build"):
                qa.Retriever.load(out, embedder=embedder)


@pytest.mark.parametrize("damage", ["store, one byte flipped", "manifest, passage count changed", "CURRENT names a missing folder"])
def test_the_rebuild_the_message_names_repairs_the_index(damage: str, seed_index: Path, tmp_path: Path, embedder: Embedder) -> None:
    out = tmp_path / "vectors"
    shutil.copytree(seed_index, out)
    DAMAGES[damage](out)
    qa.build_index([SEEDS], out, embedder=embedder)
    retriever = qa.Retriever.load(out, embedder=embedder)
    assert "يوم الخميس" in retriever.search(QUESTION, k=1)[0].text


def test_the_console_script_reports_damage_in_one_line(seed_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "vectors"
    shutil.copytree(seed_index, out)
    _flip(_generation(out) / STORE)
    qa_bin = Path(sys.executable).with_name("qa")
    result = subprocess.run([str(qa_bin), "search", QUESTION, "--index", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"qa: error: {_generation(out) / STORE} does not match its checksum in the manifest (damaged?); "
        f"rebuild it with `qa build SOURCES --out {out}`"
    ]


def test_a_build_killed_at_random_moments_never_harms_the_index(tmp_path: Path) -> None:
    """The reduced run of benchmarks/kill_build.py: three SIGKILLs at seeded moments, checks after each."""
    require(ANT.is_file(), f"shared ANT corpus not present at {ANT}")
    command = [
        sys.executable, str(ROOT / "benchmarks" / "kill_build.py"), "--kills", "3", "--articles", "20", "--step", "20",
        "--max-chars", "300", "--seed", "1", "--rebuild-in-process", "--workdir", str(tmp_path), "--json",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert result.stdout.strip(), result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    failures = [r["failure"] for r in figures["rounds"] if r["failure"]]
    assert (figures["kills"], figures["survived"], failures) == (3, 3, []), result.stderr[-2000:]
    assert result.returncode == 0
