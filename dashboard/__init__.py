"""The LogDig dashboard: a Flask blueprint over the report functions in analysis/.

Served by local mode (`./run.sh`, at /dashboard on the collector's port) and standalone against
any lake (`python -m dashboard --lake s3://bucket/`). The Elastic Beanstalk collector never
registers it (its bundle does not even hold this package).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask

from config import Settings
from logdig.lake import configured_url

log = logging.getLogger("logdig.dashboard")


def register(app: Flask, settings: Settings, lake_url: str | None = None,
             queue_path: Path | None = None, store: Path | None = None,
             clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> bool:
    """Add the dashboard and its API to `app`; False (and a log line saying why) when it must
    not be served: listening off loopback without a configured password. store: the query
    store file the reports answer from (None: the lake directly)."""
    from dashboard.auth import Gate, has_password
    from dashboard.data import Source
    from dashboard.views import bp

    gate = Gate(settings)
    if not gate.open and not has_password(settings):
        log.warning({"event": "dashboard_disabled", "host": settings.host,
                     "reason": "listening off loopback and neither LOGDIG_DASHBOARD_PASSWORD nor "
                               "LOGDIG_DASHBOARD_PASSWORD_HASH is set: /dashboard and /api/ are "
                               "not served"})
        return False
    source = Source(lake_url or configured_url(settings), settings, queue_path, store)
    app.extensions["logdig_dashboard"] = {"source": source, "gate": gate, "clock": clock}
    app.register_blueprint(bp)
    return True

