"""`qa serve`: start the web app of `qa.web` (gradio is imported only there)."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the web app with these arguments (see `qa serve --help`)."""
    from qa.web import main as serve

    return serve(list(argv) if argv is not None else None, prog="qa serve")
