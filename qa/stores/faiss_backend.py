"""The embedded store's entry points for `qa.stores` (a `qa.stores.base.Backend`): its index lives in a folder."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from qa.stores.base import OnPhase, Store, StoreWriter
from qa.stores.faiss import FaissStore
from qa.stores.faiss_build import FaissWriter, check_out

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.embed import Embedder

OPTIONS: tuple[str, ...] = ()


def locate(path: Path, uri: str | None) -> Path:
    """The index folder; a URI names a server's index, not this one, and is not used."""
    return path


def open_store(location: str | Path, *, verify: bool = True) -> FaissStore:
    return FaissStore.open(location, verify=verify)


def check_destination(location: str | Path) -> None:
    check_out(Path(location))


def open_writer(location: str | Path, *, embedder: Embedder, settings: Settings, force: bool = False,
                on_phase: OnPhase | None = None) -> AbstractContextManager[StoreWriter]:
    return FaissWriter.open(Path(location), embedder=embedder, settings=settings, force=force, on_phase=on_phase)


def build_args(store: Store) -> str:
    return f"--out {store.location}"


def watch(location: str | Path) -> None:
    """None: `qa.live` reads the folder's CURRENT pointer itself."""
    return None
