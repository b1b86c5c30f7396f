"""The web app: a chat over the indexed news, Arabic first, with cited sources, a Gradio API and JSON endpoints."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Start the app (see `python -m qa.web --help`); gradio loads only here, not on `import qa.web`."""
    from qa.web.cli import main as run

    return run(argv, prog=prog)


__all__ = ["main"]
