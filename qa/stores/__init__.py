"""Vector and passage stores behind one seam (`qa.stores.base`), chosen by name: one of qa.config.STORES.

The backend of each name is the module `qa.stores.<name>_backend` (a `qa.stores.base.Backend`): the
entry points to its reader (`qa.stores.<name>`), its writer (`qa.stores.<name>_build`) and to what
else differs between backends (where the index lives, how a served index learns of a new version).
qa.config.STORES is the one list of names; a backend is imported on first use, so `import qa` never
loads a backend's client library.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, cast

from qa.config import STORES, check_choice

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.embed import Embedder
    from qa.stores.base import Backend, OnPhase, Store, StoreWriter, Watch

__all__ = ["backend", "build_args", "check_destination", "locate", "open_store", "open_writer", "watch"]


def backend(kind: str) -> Backend:
    """The backend module of store `kind`.

    Raises:
        SettingsError: `kind` is not one of qa.config.STORES.
    """
    check_choice("store", kind, STORES)
    return cast("Backend", import_module(f"{__name__}.{kind}_backend"))


def locate(kind: str, path: str | Path, uri: str | None = None) -> str | Path:
    """Where the index of backend `kind` lives, given an index folder and a URI: the folder for "faiss", the URI for "milvus".

    Raises:
        SettingsError: `kind` is unknown, or the URI it needs is missing.
    """
    return backend(kind).locate(Path(path), uri)


def open_store(kind: str, location: str | Path, *, verify: bool = True, **options: str | None) -> Store:
    """Open the published index of backend `kind` at `location` (a folder for "faiss", a URI for "milvus").

    `options` are the backend's own: `token` and `collection` for "milvus"; others, and those set to None, are left out.

    Raises:
        SettingsError: `kind` is not one of qa.config.STORES.
        IndexStoreError: (a subclass) the index is missing, damaged or of another format, or its server
            does not answer (StoreUnavailableError).
    """
    chosen = backend(kind)
    return chosen.open_store(location, verify=verify, **_own(chosen, options))


def check_destination(kind: str, location: str | Path, **options: str | None) -> None:
    """Refuse a place a build of backend `kind` cannot write to (InputError, SettingsError), before anything is read."""
    chosen = backend(kind)
    chosen.check_destination(location, **_own(chosen, options))


def open_writer(kind: str, location: str | Path, *, embedder: Embedder, settings: Settings, force: bool = False,
                on_phase: OnPhase | None = None, **options: str | None) -> AbstractContextManager[StoreWriter]:
    """A build of the next version of backend `kind`'s index at `location`, as a context manager (see `StoreWriter`).

    Raises:
        IndexStoreError: another build is writing there, the disk is full, or the server does not answer.
    """
    chosen = backend(kind)
    return chosen.open_writer(location, embedder=embedder, settings=settings, force=force, on_phase=on_phase,
                              **_own(chosen, options))


def build_args(store: Store) -> str:
    """The `qa build` options that write `store`'s index again (never with a secret)."""
    return backend(store.name).build_args(store)


def watch(kind: str, location: str | Path, **options: str | None) -> Watch | None:
    """How a served index of backend `kind` learns of a newly published version; None where the index folder says it."""
    chosen = backend(kind)
    return chosen.watch(location, **_own(chosen, options))


def _own(chosen: Backend, options: dict[str, str | None]) -> dict[str, str]:
    return {key: value for key, value in options.items() if key in chosen.OPTIONS and value is not None}
