"""Jinja2 rendering for pages, with the security headers every page carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


def page_headers(request: Request) -> dict[str, str]:
    media = request.app.state.container.settings.public_media_url
    # direct uploads go straight to the bucket when the storage is S3
    uploads = request.app.state.upload_origin
    policy = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:", media],
        "media-src": ["'self'", media],
        "connect-src": ["'self'", uploads],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return {
        "content-security-policy": "; ".join(
            " ".join([name, *filter(None, sources)]) for name, sources in policy.items()
        ),
        "x-content-type-options": "nosniff",
        "referrer-policy": "strict-origin-when-cross-origin",
        "x-frame-options": "DENY",
    }


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(
        request, template, context, status_code=status_code, headers=page_headers(request)
    )
    return response


def render_error(request: Request, status_code: int, message: str) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"status_code": status_code, "message": message},
        status_code=status_code,
    )
