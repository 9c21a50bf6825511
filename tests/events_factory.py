"""Valid client events for tests."""

from __future__ import annotations

import uuid


def click(n: int = 0, **fields) -> dict:
    return {"event_type": "click", "event_id": str(uuid.uuid4()), "x": n, "y": n * 2,
            "current_page": f"https://shop.example/p/{n}", "user_key": "A" * 20,
            "timestamp": "2026-11-23T10:00:00.000Z", **fields}


def clicks(count: int, start: int = 0) -> list[dict]:
    return [click(start + i) for i in range(count)]
