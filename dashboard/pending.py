"""Events accepted by local mode but not drained into the lake yet, for the realtime panel.

The drain runs when 100 messages wait or the oldest waited LOGDIG_MAX_WAIT_SECONDS (60 s), so
the lake alone lags by up to a minute. Realtime reports read the day folders of the lake plus
the messages still in local mode's durable SQLite queue, read without receiving them (no
visibility change, nothing consumed). A message the drain is writing right now is in both
places; the reports keep one delivery per event_id, so it counts once.
"""

from __future__ import annotations

import sqlite3
import tempfile
from contextlib import contextmanager
from pathlib import Path

from analysis import lake_files
from logdig import packing
from logdig.lake_layout import dated, day_prefix, group_by_date, object_bytes

PENDING_NAME = "pending-queue.jsonl.gz"


def queued_events(queue_path: Path) -> list[tuple[str, dict]]:
    """(line, event) of every message body in the queue, including those a drain holds."""
    if not queue_path.exists():
        return []
    conn = sqlite3.connect(f"file:{queue_path}?mode=ro", uri=True, timeout=2)
    try:
        bodies = [body for (body,) in conn.execute("SELECT body FROM messages ORDER BY id")]
    except sqlite3.Error:
        return []  # not created yet, or busy past the timeout: the lake alone answers
    finally:
        conn.close()
    pairs = []
    for body in bodies:
        try:
            pairs += packing.parse_body(body)
        except ValueError:
            continue  # the drain moves unreadable bodies to bad/; nothing to show
    return pairs


@contextmanager
def with_queue(lake: lake_files.LakeLocation, queue_path: Path, days: list[str]):
    """A lake location over `days` of `lake` plus the queued events of those days: a temporary
    folder of links to the lake's objects and one object of queued events per day."""
    root = lake.local_root
    try:
        pending = group_by_date(dated(queued_events(queue_path)))
    except ValueError:
        pending = {}
    with tempfile.TemporaryDirectory(prefix="logdig-realtime-") as tmp:
        overlay = Path(tmp)
        for dt in days:
            for prefix in (lake.events_prefix, lake.parquet_prefix):
                folder = day_prefix(prefix, dt)
                (overlay / folder).mkdir(parents=True, exist_ok=True)
                for name in lake.names(prefix, dt, ""):
                    (overlay / folder / name).symlink_to(root / folder / name)
            if pending.get(dt):
                target = overlay / day_prefix(lake.events_prefix, dt) / PENDING_NAME
                target.write_bytes(object_bytes(pending[dt]))
        yield lake_files.open_lake(overlay.as_uri(), lake.events_prefix)
