"""The dashboard as its own app, against any lake (`python -m dashboard --lake s3://bucket/`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask, redirect

from config import load_settings
from logdig import logs

LAKE_ENV = "LOGDIG_DASHBOARD_LAKE"  # set by `python -m dashboard` for the workers
STORE_ENV = "LOGDIG_DASHBOARD_STORE"


def create_app(settings=None, lake_url: str | None = None, clock=None,
               store: Path | None = None) -> Flask:
    settings = settings or load_settings()
    if not logging.getLogger().handlers:
        logs.setup()
    import dashboard

    app = Flask(__name__, static_folder=None)
    app.config["LOGDIG"] = settings
    lake_url = lake_url or os.environ.get(LAKE_ENV) or None
    # Without --lake this is local mode's lake, so queued events count in realtime too.
    queue = settings.queue_path if lake_url is None and settings.local_queue else None
    store = store or (Path(os.environ[STORE_ENV]) if os.environ.get(STORE_ENV) else None)
    extra = {"clock": clock} if clock else {}
    if dashboard.register(app, settings, lake_url, queue, store, **extra):
        app.add_url_rule("/", "root", lambda: redirect("/dashboard"))
    return app
