"""Paths: whatever the sources and --out given to `qa build`, nothing is written outside the output folder."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.build import build_index
from qa.cli import main
from qa.errors import IndexStoreError
from qa.stores.generations import STORE, PassageStore, open_generation

HOSTILE_IDS = [
    "../../escape", "/tmp/absolute", "..\\..\\windows", "gen-evil", "CURRENT", ".tmp-gen-x", "a/../../b",
    "line\nbreak", "\u202eevil.txt", "~/home",
]


def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[object, ...]]:
    """Every entry under `root` but `skip`: kind, size and content hash (files), target (links)."""
    entries: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if skip is None or here / d != skip]
        for name in dirs + files:
            path = here / name
            key = str(path.relative_to(root))
            info = path.lstat()
            if path.is_symlink():
                entries[key] = ("link", os.readlink(path))
            elif path.is_dir():
                entries[key] = ("dir", info.st_mode)
            else:
                entries[key] = ("file", info.st_mode, info.st_size, info.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return entries


def qa(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    qa_bin = Path(sys.executable).with_name("qa")
    return subprocess.run([str(qa_bin), *args], capture_output=True, text=True, cwd=cwd, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def _article(title: str, body: str) -> str:
    return f"{title} – موقع\n\n{body}\n"


@pytest.mark.slow
def test_hostile_ids_symlinks_and_relative_paths_write_nothing_outside_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(_article("سر", "نص خارج مجلد المصادر."), encoding="utf-8")
    (outside / "keep.bin").write_bytes(os.urandom(64))
    src = tmp_path / "src"
    articles = src / "articles"
    (articles / "sub").mkdir(parents=True)
    (articles / "one.txt").write_text(_article("الأول", "نص الخبر الأول."), encoding="utf-8")
    (articles / "sub" / "two.md").write_text("# الثاني\n\nنص الخبر الثاني.\n", encoding="utf-8")
    (articles / "secret.txt").symlink_to(outside / "secret.txt")  # a file linked from outside is read, never written
    (articles / "loop").symlink_to(articles, target_is_directory=True)
    (articles / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    lines = [json.dumps({"id": i, "title": "عنوان", "text": f"نص رقم {n}."}, ensure_ascii=False) for n, i in enumerate(HOSTILE_IDS)]
    (src / "news.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    other = tmp_path / "other"
    other.mkdir()
    (other / "three.txt").write_text(_article("الثالث", "نص الخبر الثالث."), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    (work / "linked").symlink_to(other, target_is_directory=True)
    out = tmp_path / "out" / "vectors"
    before = snapshot(tmp_path)

    result = qa("build", "../src/news.jsonl", "../src/articles", "linked", "--out", "../out/vectors", "--json", cwd=work)

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["articles"] == len(HOSTILE_IDS) + 4
    after = snapshot(tmp_path, skip=out)
    assert after == {**before, "out": after["out"]}  # only out/ (and what is inside it) is new
    assert not [p for p in out.rglob("*") if p.is_symlink()]
    folder, _ = open_generation(out)
    store = PassageStore.open(folder / STORE)
    try:
        assert all(store.article(i) is not None for i in HOSTILE_IDS)
        assert store.article("secret") is not None and store.article("one") is not None
    finally:
        store.close()


@pytest.fixture
def sandbox(tmp_path: Path, seed_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with one article, a file, a dangling link; the test runs inside it."""
    (tmp_path / "article.txt").write_bytes(seed_file.read_bytes())
    (tmp_path / "afile").write_text("not a folder\n", encoding="utf-8")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "out",
    [
        "afile",
        "article.txt",
        "afile/sub",
        "dangling",
        "",
    ],
    ids=["a file", "the source file", "under a file", "a dangling link", "empty"],
)
def test_a_bad_out_is_refused_in_one_line_and_nothing_is_written(out: str, sandbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(sandbox)
    try:
        code = main(["build", "article.txt", "--out", out, "--quiet"])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert snapshot(sandbox) == before
    assert code in (1, 2) and err.startswith("qa") and err.count("\n") == 1 and "--out" in err, err


def test_a_store_under_a_path_with_uri_characters_opens_in_place(tmp_path: Path) -> None:
    folder = tmp_path / "index #1?x=%20"
    folder.mkdir()
    store = PassageStore.create(folder / STORE)
    store.commit()
    store.close()
    before = snapshot(tmp_path)
    try:
        opened = PassageStore.open(folder / STORE)
        assert opened.count() == (0, 0)
        opened.close()
    finally:
        assert snapshot(tmp_path) == before


def test_a_lock_link_and_a_users_gen_folder_are_left_alone(tmp_path: Path, seed_file: Path) -> None:
    out = tmp_path / "vectors"
    out.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n", encoding="utf-8")
    (out / ".lock").symlink_to(target)
    with pytest.raises(IndexStoreError, match="symbolic link"):
        build_index([seed_file], out)
    assert target.read_text(encoding="utf-8") == "keep me\n"
    (out / ".lock").unlink()
    mine = out / "gen-photos"
    mine.mkdir()
    (mine / "a.jpg").write_bytes(b"\xff\xd8")
    build_index([seed_file], out)
    assert (mine / "a.jpg").read_bytes() == b"\xff\xd8"
