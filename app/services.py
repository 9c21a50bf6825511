"""The collector's services, reached through typed accessors (the style of flaskr's get_db()).

Built lazily, once per worker process, on the first request that needs them: gunicorn forks its
workers after importing the app, and a queue client or a flush thread must not cross a fork.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from app.group_commit import GroupCommitter
from config import Settings
from logdig.message_queue import Queue
from logdig.queues import make_queue

EXTENSION = "logdig"


class Services:
    def __init__(self, settings: Settings, queue: Queue | None = None):
        self.settings = settings
        self._queue = queue
        self._committer: GroupCommitter | None = None
        self._lock = threading.Lock()  # request threads race to build them first

    def queue(self) -> Queue:
        with self._lock:
            if self._queue is None:
                self._queue = make_queue(self.settings)
            return self._queue

    def committer(self) -> GroupCommitter:
        queue = self.queue()
        with self._lock:
            if self._committer is None:
                self._committer = GroupCommitter.from_settings(queue, self.settings)
            return self._committer


def init_app(app: Flask, settings: Settings, queue: Queue | None = None) -> None:
    app.config["LOGDIG"] = settings
    app.extensions[EXTENSION] = Services(settings, queue)


def _services() -> Services:
    return current_app.extensions[EXTENSION]


def get_settings() -> Settings:
    return _services().settings


def get_queue() -> Queue:
    return _services().queue()


def get_committer() -> GroupCommitter:
    return _services().committer()
