"""End to end in local mode: events posted to the collector, drained by the core into the lake,
then reported by `python -m analysis` with no --lake (the default is local mode's lake)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
USER = "LocalModeUser0000001"
# A browser's user agent: reports leave bots out, and python-requests' own agent is a bot.
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/131.0.0.0 Safari/537.36"}

pytestmark = pytest.mark.process


def analysis_cli(data_dir: Path, *args: str) -> list[dict]:
    env = {**os.environ, "LOGDIG_DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "analysis", *args, "--format", "json"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_reports_read_what_local_mode_wrote(local_server):
    # GIVEN a visit posted to the collector and drained into the lake
    page = "https://site.test/shop?item=4"
    events = [
        {"event_id": "lm-1", "event_type": "page_view", "user_key": USER, "current_page": page,
         "referrer": "https://duckduckgo.com/?q=shop"},
        {"event_id": "lm-2", "event_type": "click", "user_key": USER, "current_page": page,
         "x": 300, "y": 120, "document_width": 1200},
        {"event_id": "lm-3", "event_type": "conversion", "user_key": USER, "current_page": page},
    ]
    assert local_server.post({"events": events}, headers=BROWSER).status_code == 202
    # a client retry: same event_id
    assert local_server.post(events[0], headers=BROWSER).status_code == 202
    local_server.drain_now()
    # The day the collector stamped (not the test's clock, which may have passed midnight).
    days = {event["received_at"][:10] for event in local_server.lake_events()}
    assert len(days) == 1
    today = days.pop()
    span = ["--from", today, "--to", today]

    # WHEN reporting on today with the default lake; THEN each event counts once
    traffic = analysis_cli(local_server.data_dir, "report", "traffic", *span, "--bucket", "day")
    assert traffic == [{"bucket_start": f"{today}T00:00:00Z", "events": 3, "page_views": 1,
                        "visitors": 1}]
    assert analysis_cli(local_server.data_dir, "report", "conversions", *span) == [
        {"conversions": 1, "converting_sessions": 1, "sessions": 1, "conversion_rate": 1.0}]
    referrers = analysis_cli(local_server.data_dir, "report", "referrers", *span)
    assert referrers[0]["referrer_host"] == "duckduckgo.com"
    heatmap = analysis_cli(local_server.data_dir, "report", "heatmap", *span, "--page",
                           "https://site.test/shop", "--columns", "4")
    assert heatmap == [{"cell_col": 1, "cell_row": 1, "clicks": 1}]
