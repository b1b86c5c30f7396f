"""Vector and passage stores behind one protocol (`qa.stores.base`), opened by name: one of qa.config.STORES."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from qa.config import STORES, check_choice

if TYPE_CHECKING:
    from qa.stores.base import Store

# Each backend: the module and class whose `open(location, *, verify)` returns a Store.
# Modules are imported on first use, so `import qa` never loads a backend's client library.
_BACKENDS = {"faiss": ("qa.stores.faiss", "FaissStore"), "milvus": ("qa.stores.milvus", "MilvusStore")}


def open_store(kind: str, location: str | Path, *, verify: bool = True, **options: str | None) -> Store:
    """Open the published index of backend `kind` at `location` (a folder for "faiss", a URI for "milvus").

    `options` are the backend's own: `token` and `collection` for "milvus".

    Raises:
        SettingsError: `kind` is not one of qa.config.STORES.
        IndexStoreError: (a subclass) the index is missing, damaged or of another format, or its server
            does not answer (StoreUnavailableError).
    """
    check_choice("store", kind, STORES)
    module, name = _BACKENDS[kind]
    backend = getattr(import_module(module), name)
    given = {key: value for key, value in options.items() if value is not None}
    store: Store = backend.open(location, verify=verify, **given)
    return store
