"""A trivial Flask JSON POST endpoint: the per-request cost floor bench/collector.py compares with.

It parses the JSON body and answers a small JSON object, nothing else, under gunicorn gthread
(2 workers x 16 threads, the collector's former production setting):
    python -m gunicorn -k gthread -w 2 --threads 16 "bench.trivial_app:create_app()"
"""

from __future__ import annotations

from flask import Flask, jsonify, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/v1/logs")
    def logs():
        document = request.get_json(force=True)
        count = len(document) if isinstance(document, list) else 1
        return jsonify(accepted=count), 202

    return app
