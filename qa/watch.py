"""Keep an index current: poll feeds, pages and files every so often, and build when a round brought something new."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qa.config import Settings
from qa.errors import QAError, SettingsError
from qa.fetch import Fetcher, FetchLimits
from qa.sources import Collector, SourceReport, Spool

if TYPE_CHECKING:
    from qa.build import BuildReport
    from qa.embed import Embedder

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.I)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in `90`, `30s`, `15m`, `2h` or `1d`.

    Raises:
        SettingsError: another form, or not more than 0.
    """
    match = _DURATION.match(text)
    if not match:
        raise SettingsError(f"a duration must be a number with s, m, h or d (e.g. 15m), got {text!r}")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if seconds <= 0:
        raise SettingsError(f"a duration must be more than 0, got {text!r}")
    return seconds


def default_spool(out: str | Path) -> Path:
    """Where the articles read from non-native sources are kept by default: `<out>.sources` beside the index."""
    out = Path(out)
    return out.with_name(out.name + ".sources")


@dataclass(frozen=True)
class RoundReport:
    """One poll round: a report per source, the build it ran (None when nothing was new after the first round), and its cost."""

    number: int
    sources: tuple[SourceReport, ...]
    build: BuildReport | None
    build_error: str | None
    seconds: float
    cpu_seconds: float

    @property
    def new(self) -> int:
        return sum(r.new for r in self.sources)


class Watcher:
    """Polls `sources` into a spool and rebuilds the index in `out` when a round found new articles.

    The build is the ordinary incremental, atomic `build_index`: only new passages are embedded, and
    a serving app switches to the new generation on its own. A failing source is reported in its
    round and the others go on; a failing build is reported and the index keeps serving the last one.

    Args:
        sources: URLs (feeds, pages) and paths (feeds, pages, folders, CSV/TSV/Parquet, .txt/.md, JSON Lines).
        out: the index folder.
        spool: where read articles are kept (default `default_spool(out)`).
        fmt, columns: as `qa.sources.Collector` takes them.
        limits: the fetching limits of each round.
        settings: the build settings.
        embedder: a loaded embedder to share (else one is made at the first build and kept).
        store_options: `store`, `uri`, `token`, `collection` for `build_index`.
    """

    def __init__(
        self,
        sources: Sequence[str | Path],
        out: str | Path,
        *,
        spool: str | Path | None = None,
        fmt: str = "auto",
        columns: str | None = None,
        limits: FetchLimits | None = None,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        store_options: dict[str, str | None] | None = None,
    ) -> None:
        if not sources:
            raise SettingsError("qa watch needs at least one source: a feed or page URL, a file or a folder")
        self.sources = [str(s) for s in sources]
        self.out = Path(out)
        self.collector = Collector(Spool(spool or default_spool(out)), fmt=fmt, columns=columns)
        self.limits = limits or FetchLimits()
        self.settings = settings or Settings()
        self._embedder = embedder
        self._store_options = store_options or {}
        self.rounds = 0
        self._built = False

    def poll(self, *, on_source: Callable[[SourceReport], None] | None = None) -> RoundReport:
        """One round: read every source, then build if anything is new (and at the first round, whatever happened)."""
        from qa.build import build_index
        from qa.embed import Embedder

        started, cpu = time.monotonic(), time.process_time()
        self.rounds += 1
        with Fetcher(self.limits) as fetcher:
            reports = []
            paths = []
            for source in self.sources:
                try:
                    prepared = self.collector.prepare([source], fetcher)
                except QAError as exc:
                    prepared = None
                    report = SourceReport(source, error=str(exc))
                    reports.append(report)
                    if on_source is not None:
                        on_source(report)
                    continue
                paths.extend(prepared.paths)
                for report in prepared.reports:
                    reports.append(report)
                    logger.info("%s", report)
                    if on_source is not None:
                        on_source(report)
        build = None
        build_error = None
        # The first round always builds (an unchanged corpus makes that a no-op): the index may predate the spool.
        if paths and (any(r.new for r in reports) or not self._built):
            if self._embedder is None:
                self._embedder = Embedder.from_settings(self.settings)
            try:
                build = build_index(paths, self.out, settings=self.settings, embedder=self._embedder, **self._store_options)
                self._built = True
            except QAError as exc:
                build_error = str(exc)
                logger.warning("build failed: %s", exc)
        return RoundReport(self.rounds, tuple(reports), build, build_error, time.monotonic() - started,
                           time.process_time() - cpu)

    def run(
        self,
        every_s: float,
        *,
        rounds: int | None = None,
        stop: threading.Event | None = None,
        on_source: Callable[[SourceReport], None] | None = None,
        on_round: Callable[[RoundReport], None] | None = None,
    ) -> None:
        """Poll every `every_s` seconds (measured from one round's start to the next) until `rounds` are done or `stop` is set."""
        stop = stop or threading.Event()
        done = 0
        while not stop.is_set():
            started = time.monotonic()
            result = self.poll(on_source=on_source)
            if on_round is not None:
                on_round(result)
            done += 1
            if rounds is not None and done >= rounds:
                return
            stop.wait(max(0.0, every_s - (time.monotonic() - started)))
