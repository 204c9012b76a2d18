"""All pages, static files and the error presentation of the browser UI."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from ticketry.core.config import get_settings
from ticketry.http.control_characters import refuse_control_characters
from ticketry.http.routing import absorb
from ticketry.web import (
    accounts,
    admin,
    admin_jobs,
    admin_mail,
    canned,
    desk,
    desk_exports,
    desk_relations,
    desk_threads,
    desk_views,
    live,
    message_edits,
    notifications,
    portal,
    tags,
)
from ticketry.web.templating import HERE

VENDOR_FILES = {
    "htmx.min.js": Path("htmx.org") / "dist" / "htmx.min.js",
    "swagger-ui-bundle.js": Path("swagger-ui-dist") / "swagger-ui-bundle.js",
    "swagger-ui.css": Path("swagger-ui-dist") / "swagger-ui.css",
}

# Every route, present and future: no control characters in its path, query or form.
web_router = APIRouter(include_in_schema=False, dependencies=[Depends(refuse_control_characters)])
for module in (
    accounts,
    notifications,
    portal,
    desk,
    desk_exports,
    canned,
    desk_relations,
    desk_threads,
    desk_views,
    message_edits,
    live,
    admin,
    admin_mail,
    admin_jobs,
    tags,
):
    absorb(web_router, module.router)


def node_modules() -> Path:
    """Front-end packages installed by `npm ci` (see package.json); never committed."""
    configured = get_settings().assets_dir
    return Path(configured) if configured else Path(__file__).resolve().parents[3] / "node_modules"


@web_router.get("/static/vendor/{name}")
def vendor(name: str) -> Response:
    relative = VENDOR_FILES.get(name)
    path = node_modules() / relative if relative else None
    if path is None or not path.is_file():
        return Response(
            "Not found. Run `make install` to fetch front-end assets.",
            status_code=404,
            media_type="text/plain",
        )
    media_type = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})


@web_router.get("/api/docs")
def api_docs() -> Response:
    """Swagger UI served from our own copy (npm), so the docs work on machines without internet."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Ticketry API",
        swagger_js_url="/static/vendor/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
