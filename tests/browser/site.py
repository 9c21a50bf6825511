"""A static server for the demo sites under tests/browser_site, on a free loopback port.

Pages hold the placeholder ``__TRACKER_TAG__``; the server replaces it with the one script tag a
site owner would paste, pointing at the collector under test, so each test chooses its ``data-*``
options. Paths under /spa/ without a file fall back to the app's index.html, as SPA hosting does.
"""

import html
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SITE_ROOT = Path(__file__).resolve().parent.parent / "browser_site"
PLACEHOLDER = b"__TRACKER_TAG__"


def tracker_tag(collector_url, attrs):
    """The install snippet: `<script async src=".../clickTracker.js" data-...>`."""
    options = "".join(
        f' data-{name}="{html.escape(str(value))}"' for name, value in attrs.items() if value is not None
    )
    return f'<script async src="{collector_url}/clickTracker.js"{options}></script>'


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, site, **kwargs):
        self.site = site
        super().__init__(*args, directory=str(SITE_ROOT), **kwargs)

    def log_message(self, format, *args):  # keep pytest output clean
        pass

    def send_head(self):
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        file = SITE_ROOT / path.lstrip("/")
        if path.startswith("/spa/") and not file.is_file():
            file = SITE_ROOT / "spa" / "index.html"
        if file.suffix != ".html" or not file.is_file():
            return super().send_head()
        body = file.read_bytes().replace(PLACEHOLDER, self.site.tag().encode())
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)
        return None


class SiteServer:
    """Serves the demo sites; ``attrs`` are the script tag's data-* options (without ``data-``)."""

    def __init__(self, collector_url, attrs=None):
        self.collector_url = collector_url.rstrip("/")
        self.attrs = dict(attrs or {})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, site=self))
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def tag(self):
        return tracker_tag(self.collector_url, self.attrs)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
