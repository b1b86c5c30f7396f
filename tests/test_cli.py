"""The `qa` command through its entry point: output, exit codes, error messages."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qa.answer import ABSTENTION
from qa.cli import main
from tests.conftest import SEEDS


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    qa_bin = Path(sys.executable).with_name("qa")
    return subprocess.run([str(qa_bin), *args], capture_output=True, text=True, cwd=cwd, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.mark.slow
def test_build_then_search_through_the_console_script(tmp_path: Path) -> None:
    out = tmp_path / "vectors"
    built = run("build", str(SEEDS), "--out", str(out), "--json")
    assert built.returncode == 0, built.stderr
    summary = json.loads(built.stdout)
    assert summary["articles"] == 1 and summary["passages"] >= 3 and summary["skipped"] == []

    found = run("search", "متى يزور أولوند موسكو؟", "-k", "2", "--index", str(out), "--json")
    assert found.returncode == 0, found.stderr
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert [h["rank"] for h in hits] == [1, 2]
    assert "يوم الخميس" in hits[0]["text"] and hits[0]["site"] == "مصدر24"

    text = run("search", "من هو السفير الروسي لدى فرنسا؟", "--index", str(out))
    assert text.returncode == 0 and text.stdout.startswith("[1] ") and "ألكسندر أورلوف" in text.stdout.split("[2]")[0]

    again = run("build", str(SEEDS), "--out", str(out))
    assert again.returncode == 0 and again.stdout.startswith(f"up to date: 1 articles, {summary['passages']} passages")
    # stderr is a pipe here, not a terminal: no bar, and the summary once.
    assert len(again.stdout.splitlines()) == 1 and "up to date" not in again.stderr

    forced = run("build", str(SEEDS), "--out", str(out), "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["embedded"] == summary["passages"]


def test_progress_log_lines_give_rate_and_time_left() -> None:
    from qa.build import BuildProgress
    from qa.cli import _ProgressBar

    class Log(io.StringIO):
        def isatty(self) -> bool:
            return False

    log = Log()
    bar = _ProgressBar(interval=3600, stream=log)
    bar(BuildProgress(done=0, total=400))
    bar(BuildProgress(done=100, total=400, passages=350, embedded=300, seconds=50.0))  # within the interval: silent
    bar(BuildProgress(done=400, total=400, passages=1400, embedded=1200, seconds=200.0))
    bar(BuildProgress(done=400, total=400, passages=1400, embedded=1200, seconds=200.0))  # no repeat
    bar(BuildProgress(phase="vectors", done=0, total=1400))
    assert log.getvalue().splitlines() == [
        "qa: articles 0/400",
        "qa: articles 400/400 in 3m20s, 2.00 articles/s, 1,400 passages (6.0 embedded/s), 0 reused",
        "qa: vectors 0/1,400",
    ]
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    bar = _ProgressBar(stream=terminal)
    bar(BuildProgress(done=10, total=400))
    # On a terminal, a bar whose rate and ETA are the phase's mean so far (not a recent-rate guess).
    assert bar._bar.smoothing == 0 and bar._bar.n == 10 and "/400" in terminal.getvalue()
    bar.close()
    log = Log()
    bar = _ProgressBar(interval=0, stream=log)
    bar(BuildProgress(done=3000, total=31523, passages=9000, embedded=9000, seconds=3000.0))
    assert log.getvalue() == "qa: articles 3,000/31,523 in 50m00s, 1.00 articles/s, 9,000 passages (3.0 embedded/s), 0 reused, about 7h55m23s left\n"


def test_the_bar_takes_the_width_of_the_terminal_it_draws_on() -> None:
    import fcntl
    import struct
    import termios

    from qa.build import BuildProgress
    from qa.cli import _ProgressBar

    # stderr on a terminal while stdout is redirected: the width is stderr's, whatever stdout's.
    main, side = os.openpty()
    try:
        with open(side, "w", encoding="utf-8", closefd=False) as tty:
            # tqdm leaves the last column free; 0 columns (`script`'s pty) get a fixed 100.
            for columns, expected in ((132, 131), (0, 100)):
                fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
                bar = _ProgressBar(stream=tty)
                bar(BuildProgress(done=1, total=4))
                assert bar._bar.ncols == expected
                bar.close()
    finally:
        os.close(main)
        os.close(side)


@pytest.mark.slow
def test_build_reports_skipped_inputs(tmp_path: Path, seed_file: Path) -> None:
    sources = tmp_path / "in"
    sources.mkdir()
    (sources / "good.txt").write_bytes(seed_file.read_bytes())
    (sources / "bad.txt").write_bytes("نص".encode("cp1256"))
    result = run("build", str(sources), "--out", str(tmp_path / "v"))
    assert result.returncode == 0
    # stderr is a pipe: plain progress lines (rate, passages), no carriage returns of a bar
    assert re.search(r"^qa: articles 2/2 in \d+m\d\ds, [\d.]+ articles/s, \d+ passages", result.stderr, re.MULTILINE), result.stderr
    assert "\r" not in result.stderr
    assert f"skipped {sources / 'bad.txt'}: not UTF-8" in result.stderr
    assert "skipped 1 input(s)" in result.stdout
    strict = run("build", str(sources), "--out", str(tmp_path / "v2"), "--strict")
    assert strict.returncode == 1
    assert strict.stderr.strip().splitlines() == [f"qa: error: {sources / 'bad.txt'}: not UTF-8 (invalid byte at offset 0); convert it, e.g. iconv -f cp1256 -t utf-8"]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["search", "سؤال", "--index", "{tmp}/none"], 1, "qa: error: no index at {tmp}/none; build one with `qa build SOURCES --out {tmp}/none`"),
        (["build", "{tmp}/missing", "--out", "{tmp}/v"], 1, "qa: error: {tmp}/missing: no such file or folder"),
        (["build", "--chunk-tokens", "3", "--out", "{tmp}/v"], 2, "chunk_tokens must be at least 16"),
        (["search"], 2, "the following arguments are required: question"),
        (["search", "سؤال", "-k", "many"], 2, "invalid int value"),
        (["nope"], 2, "invalid choice"),
        (["search", "سؤال", "--mode", "fuzzy"], 2, "argument --mode: invalid choice: 'fuzzy' (choose from 'hybrid', 'dense', 'lexical')"),
        (["ask", "سؤال", "--answerer", "oracle"], 2, "argument --answerer: invalid choice: 'oracle' (choose from 'extractive', 'llm')"),
        (["build", "--precision", "float16"], 2, "argument --precision: invalid choice: 'float16' (choose from 'auto', 'float32', 'bfloat16', 'int8')"),
        (["build", "--index-type", "ivf"], 2, "argument --index-type: invalid choice: 'ivf' (choose from 'auto', 'flat', 'hnsw')"),
        (["eval", "data.json", "--mode", "exact"], 2, "argument --mode: invalid choice: 'exact'"),
        (["build", "--batch-size", "0", "--out", "{tmp}/v"], 2, "qa build: error: batch_size must be at least 1, got 0"),
        (["eval", "{tmp}/none.json"], 1, "qa: error: {tmp}/none.json is not a SQuAD-format JSON file"),
        ([], 2, "usage: qa"),
    ],
)
def test_error_cases(argv: list[str], code: int, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        result = main(argv)
    except SystemExit as exit_:
        result = exit_.code
    assert result == code
    err = capsys.readouterr().err
    assert message.replace("{tmp}", str(tmp_path)) in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_cli_ask_prints_the_answer_then_the_sources(seed_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "متى يزور أولوند موسكو؟", "--index", str(seed_index)]) == 0
    out = capsys.readouterr().out
    answer, sources = out.split("\nSources:\n")
    assert "الخميس" in answer and re.search(r" \[1\]$", answer.strip())
    first = sources.splitlines()[0]
    assert first.startswith("[1] أولوند يقصد روسيا") and "مصدر24" in first
    assert "يوم الخميس" in sources

    assert main(["ask", "ما هي عاصمة أستراليا؟", "--index", str(seed_index), "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(ABSTENTION["ar"]) and out.count("\n- ") == 2

    assert main(["ask", "كم شخصا قتل في هجمات باريس؟", "--index", str(seed_index), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert "130" in record["text"] and record["citations"][0]["number"] == 1 and record["abstained"] is False


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "message"), [(["-k", "0"], "k must"), (["--mode", "dense", "--since", "yesterday"], "since must be an ISO date")]
)
def test_cli_ask_errors(seed_index: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code = main(["ask", "متى يزور أولوند موسكو؟", "--index", str(seed_index), *argv])
    err = capsys.readouterr().err
    # A refused question or option is bad usage: exit 2, like a bad flag.
    assert code == 2 and err.startswith("qa: error: ") and message in err
