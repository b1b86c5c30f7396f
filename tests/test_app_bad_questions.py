"""Bad questions at the command line: `qa ask` and `qa search` answer them or refuse them in one line.

The JSON and Gradio APIs get the same questions in test_app.py, the page in test_browser.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qa.cli import EXIT_USAGE, main

pytestmark = pytest.mark.slow

QUESTION = "متى يزور أولوند موسكو؟"
EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'
REFUSED = [
    pytest.param("", "the question is empty", id="empty"),
    pytest.param(" \t\n\u00a0 ", "the question is empty", id="whitespace"),
    pytest.param("x" * 100_000, "the limit is 2,000", id="100k-characters"),
]
ANSWERED = [
    pytest.param("؟؟؟ ... !!! ،،", "", id="only-punctuation"),
    pytest.param("🙂🚀🔥", "", id="emoji"),
    pytest.param("When يزور Hollande موسكو ?", "الخميس", id="mixed-scripts"),
    pytest.param("\u202eمتى يزور أولوند موسكو؟\u202c", "الخميس", id="bidi-override"),
    pytest.param("\u202e\u2066\u2069", "", id="only-bidi-controls"),
    pytest.param(EVIL, "", id="html-and-script"),
]


@pytest.fixture()
def cli(seed_index: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run `qa ARGS --index SEED_INDEX`; (exit code, stdout, stderr). Every load shares the session's model."""
    import qa

    load = qa.Retriever.load
    monkeypatch.setattr(qa.Retriever, "load", lambda path, **options: load(path, **{**options, "embedder": embedder}))

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main([*args, "--index", str(seed_index)])
        except SystemExit as exit_:
            code = exit_.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.mark.parametrize("command", ["ask", "search"])
@pytest.mark.parametrize(("question", "message"), REFUSED)
def test_refused_in_one_line_as_bad_usage(cli: Any, command: str, question: str, message: str) -> None:
    code, out, err = cli(command, question)
    assert code == EXIT_USAGE and out == ""
    assert err.count("\n") == 1 and err.startswith("qa: error: ") and message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["ask", "search"])
def test_undecodable_argument_is_refused_in_one_line(cli: Any, command: str) -> None:
    code, out, err = cli(command, "\udcff\udcfe")  # what Python makes of the bytes ff fe in argv
    assert code == EXIT_USAGE and out == "" and err.startswith("qa: error: ") and err.count("\n") == 1
    assert "UTF-8" in err


@pytest.mark.parametrize(("question", "expected"), ANSWERED)
def test_answered(cli: Any, question: str, expected: str) -> None:
    code, out, err = cli("ask", question, "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["text"] and expected in answer["text"]
    assert all(f"[{c['number']}]" in answer["text"] for c in answer["citations"])
    code, out, err = cli("search", question, "-k", "2", "--json")
    assert code == 0, err
    assert [json.loads(line)["rank"] for line in out.splitlines()] == [1, 2]
