"""The personalisation service layer: sessions, slots, reasons, rules, per-version arrays."""

from __future__ import annotations

from fastapi import FastAPI

from api import metrics
from api.services.rules_watch import RulesWatcher


def install(app: FastAPI) -> None:
    """Metrics middleware and the rules watcher (a bad rules file fails start-up, clearly)."""
    metrics.install(app)
    watcher = RulesWatcher(app.state.settings.rules_dir)
    watcher.install_sighup()
    app.state.rules = watcher
