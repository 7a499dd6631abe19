"""The web app (web/, built into web/dist by ``make web``) served at ``/`` after every API route.

``index.html`` is sent with ``Cache-Control: no-cache`` (a new build is picked up on the next load) and the
content-hashed files under ``assets/`` as immutable for a year; everything is gzipped for clients that accept it.
The app calls the API with relative URLs, so it must be mounted at the service's root. When the app has not been
built, ``/`` says how to build it instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["DEFAULT_WEB_DIR", "mount_web"]

#: Where ``make web`` writes the built app (``TOURNEY_WEB_DIR`` overrides it).
DEFAULT_WEB_DIR = Path(__file__).resolve().parents[2] / "web" / "dist"


class _AppFiles(StaticFiles):
    """StaticFiles with the app's cache rules."""

    def file_response(
        self, full_path: "os.PathLike[str] | str", stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        immutable = Path(full_path).parent.name == "assets"
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if immutable else "no-cache"
        return response


_NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Tournament</title>
<p>The web app is not built in {where}. Build it with <code>make web</code> (npm ci and npm run build in
<code>web/</code>) and restart the service. The JSON API is served as usual: see <a href="docs">docs</a>.</p></html>
"""


def mount_web(app: FastAPI, directory: str | os.PathLike[str] | None = None) -> Path:
    """Serve the built app from ``directory`` (default ``TOURNEY_WEB_DIR`` or :data:`DEFAULT_WEB_DIR`) at ``/``;
    call after the API routes are included. Returns the directory."""
    where = Path(directory or os.environ.get("TOURNEY_WEB_DIR") or DEFAULT_WEB_DIR)
    if (where / "index.html").is_file():
        app.mount("/", GZipMiddleware(_AppFiles(directory=where, html=True), minimum_size=1024), name="web")
    else:

        @app.get("/", include_in_schema=False)
        def not_built() -> HTMLResponse:
            return HTMLResponse(_NOT_BUILT.format(where=where), headers={"Cache-Control": "no-cache"})

    return where
