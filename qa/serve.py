"""`qa serve`: start the web app, which lives in app.py beside the package (gradio is imported only there)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from qa.errors import QAError

APP_FILE = "app.py"


def app_path() -> Path:
    """app.py of the checkout this package runs from, else of the current folder."""
    for folder in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if (folder / APP_FILE).is_file():
            return folder / APP_FILE
    raise QAError(f"the web app ({APP_FILE}) is not here; run `qa serve` from a checkout of the repository")


def main(argv: Sequence[str] | None = None) -> int:
    """Run app.py's `main` with these arguments (see `qa serve --help`)."""
    path = app_path()
    spec = importlib.util.spec_from_file_location("app", path)
    if spec is None or spec.loader is None:
        raise QAError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("app", module)
    spec.loader.exec_module(module)
    return module.main(list(argv) if argv is not None else None)
