"""`python -m qa.web`: start the web app."""

from qa.web import main

raise SystemExit(main(prog="python -m qa.web"))
