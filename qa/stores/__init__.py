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
_BACKENDS = {"faiss": ("qa.stores.faiss", "FaissStore")}


def open_store(kind: str, location: str | Path, *, verify: bool = True) -> Store:
    """Open the published index of backend `kind` at `location` (a folder for "faiss").

    Raises:
        SettingsError: `kind` is not one of qa.config.STORES.
        IndexStoreError: (a subclass) the index is missing, damaged or of another format.
    """
    check_choice("store", kind, STORES)
    module, name = _BACKENDS[kind]
    backend = getattr(import_module(module), name)
    store: Store = backend.open(location, verify=verify)
    return store
