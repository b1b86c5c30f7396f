"""qa.stores: one list of backend names (qa.config.STORES), each a `Backend` module the package opens by name."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from qa import stores
from qa.config import STORES
from qa.errors import IndexMissingError, InputError, SettingsError
from qa.stores.base import Backend

PACKAGE = Path(stores.__file__).parent
ENTRY_POINTS = [name for name, value in vars(Backend).items() if inspect.isfunction(value) and not name.startswith("_")]


def test_each_backend_module_is_a_store_name_and_each_name_has_one() -> None:
    assert sorted(path.name.removesuffix("_backend.py") for path in PACKAGE.glob("*_backend.py")) == sorted(STORES)


@pytest.mark.parametrize("kind", STORES)
def test_a_backend_has_every_entry_point_with_the_seam_s_keywords(kind: str) -> None:
    chosen = stores.backend(kind)
    assert set(ENTRY_POINTS) == {"locate", "open_store", "check_destination", "open_writer", "build_args", "watch"}
    for name in ENTRY_POINTS:
        wanted = inspect.signature(getattr(Backend, name)).parameters
        given = inspect.signature(getattr(chosen, name)).parameters
        keywords = [p for p in wanted.values() if p.kind is p.KEYWORD_ONLY]
        assert all(p.name in given for p in keywords), f"{kind}.{name} lacks {[p.name for p in keywords]}"
    assert all(option in inspect.signature(chosen.open_store).parameters for option in chosen.OPTIONS)


def test_an_unknown_store_is_named_with_the_known_ones() -> None:
    with pytest.raises(SettingsError, match="store must be one of faiss, milvus, got 'pg'"):
        stores.backend("pg")


def test_the_folder_serves_faiss_and_the_uri_milvus(tmp_path: Path) -> None:
    assert stores.locate("faiss", tmp_path / "index", "news.db") == tmp_path / "index"
    assert stores.locate("milvus", tmp_path / "index", "news.db") == "news.db"
    with pytest.raises(SettingsError, match="the milvus store needs a URI"):
        stores.locate("milvus", tmp_path / "index", None)


def test_options_another_backend_takes_are_left_out(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError):
        stores.open_store("faiss", tmp_path / "none", token="user:secret", collection="news", uri=None)


def test_a_build_destination_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        stores.check_destination("faiss", tmp_path / "file")
    with pytest.raises(SettingsError, match="collection must be letters"):
        stores.check_destination("milvus", str(tmp_path / "news.db"), collection="no spaces")
    stores.check_destination("milvus", str(tmp_path / "news.db"), collection="news")


def test_the_faiss_index_folder_is_watched_by_its_pointer_and_milvus_by_its_alias(tmp_path: Path) -> None:
    assert stores.watch("faiss", tmp_path) is None
    watch = stores.watch("milvus", "http://user:secret@127.0.0.1:19530", token="t", collection="news")
    assert watch is not None and callable(watch.published)
    assert watch.info == {"store": "milvus", "index": "http://127.0.0.1:19530 (collection news)",
                          "uri": "http://127.0.0.1:19530", "collection": "news"}


def test_choosing_a_backend_loads_no_client_library() -> None:
    code = "import sys, qa.stores as s, qa.config as c; [s.backend(k) for k in c.STORES]; print('pymilvus' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
