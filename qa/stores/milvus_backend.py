"""The server store's entry points for `qa.stores` (a `qa.stores.base.Backend`): its index lives at a Milvus URI.

pymilvus is imported only when a client connects (`qa.stores.milvus.connect`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from qa.errors import SettingsError
from qa.stores.base import OnPhase, Store, StoreWriter, Watch
from qa.stores.milvus import DEFAULT_COLLECTION, AliasWatch, MilvusStore, MilvusTarget, safe_uri
from qa.stores.milvus_build import MilvusWriter

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.embed import Embedder

OPTIONS = ("token", "collection")


def locate(path: Path, uri: str | None) -> str:
    """The URI; the index folder is not used."""
    if not uri:
        raise SettingsError("the milvus store needs a URI: --uri ./news.db (Milvus Lite) or --uri http://host:19530")
    return uri


def open_store(location: str | Path, *, verify: bool = True, token: str | None = None,
               collection: str | None = None) -> MilvusStore:
    return MilvusStore.open(_target(location, token, collection), verify=verify)


def check_destination(location: str | Path, *, token: str | None = None, collection: str | None = None) -> None:
    _target(location, token, collection)


def open_writer(location: str | Path, *, embedder: Embedder, settings: Settings, force: bool = False,
                on_phase: OnPhase | None = None, token: str | None = None,
                collection: str | None = None) -> AbstractContextManager[StoreWriter]:
    return MilvusWriter.open(_target(location, token, collection), embedder=embedder, settings=settings, force=force,
                             on_phase=on_phase)


def build_args(store: Store) -> str:
    assert isinstance(store, MilvusStore)
    return f"--store milvus --uri {safe_uri(store.target.uri)} --collection {store.target.collection}"


def watch(location: str | Path, *, token: str | None = None, collection: str | None = None) -> Watch:
    target = _target(location, token, collection)
    info = {"store": "milvus", "index": target.where, "uri": safe_uri(target.uri), "collection": target.collection}
    return Watch(AliasWatch(target), info)


def _target(location: str | Path, token: str | None, collection: str | None) -> MilvusTarget:
    return MilvusTarget(str(location), collection or DEFAULT_COLLECTION, token or "")
