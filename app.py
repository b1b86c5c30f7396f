"""The web app: `python app.py` (or `qa serve`) starts the chat over the indexed news; the code lives in qa/web/."""

from qa.web import main

if __name__ == "__main__":
    raise SystemExit(main())
