"""The rules in force, reloaded without a restart.

The directory (`TOUCHPOINT_BUSINESS_RULES_DIR`, default `./rules`) is checked for changed files at
most once a second (a few `stat` calls, no reads), or at once after SIGHUP. A bad edit is
logged with its file, key path and reason and the previous rules stay in force; only the
first load, at start-up, fails hard. Each reload, and each new bad edit, is reported to
`on_reload` (the app records it in the audit trail).
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path

from recsys.business_rules import RuleBook, fingerprint, load_rulebook
from recsys.business_rules_schema import BusinessRulesError

log = logging.getLogger("touchpoint.api")
CHECK_EVERY = 1.0


class RulesWatcher:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._print = fingerprint(self.directory)
        self.book = load_rulebook(self.directory)  # a bad file at start-up is fatal
        self.last_error: str | None = None
        self._checked = time.monotonic()
        self._force = False
        self.on_reload: Callable[[str, str], None] | None = None  # (outcome, detail)

    def current(self) -> RuleBook:
        now = time.monotonic()
        if self._force or now - self._checked >= CHECK_EVERY:
            self._checked = now
            self._force = False
            self._maybe_reload()
        return self.book

    def request_reload(self) -> None:
        self._force = True

    def install_sighup(self) -> None:
        try:
            signal.signal(signal.SIGHUP, lambda *_: self.request_reload())
        except (ValueError, AttributeError):  # not the main thread / no SIGHUP on this OS
            log.debug("SIGHUP reload not available here")

    def _maybe_reload(self) -> None:
        current = fingerprint(self.directory)
        if current == self._print:
            return
        try:
            book = load_rulebook(self.directory)
        except (BusinessRulesError, OSError) as exc:
            if str(exc) != self.last_error:
                log.error("rules not reloaded, previous rules stay in force: %s", exc)
                self._report("failed", f"previous rules stay in force: {exc}")
            self.last_error = str(exc)
            return
        self.book, self._print, self.last_error = book, current, None
        log.info("rules reloaded from %s (%d files)", self.directory, len(book.files))
        self._report("ok", f"{len(book.files)} files")

    def _report(self, outcome: str, detail: str) -> None:
        if self.on_reload is not None:
            self.on_reload(outcome, detail)
