"""Jinja2 rendering for pages, with the security headers every page carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from pixstash.domain.accounts import Principal, WebSession

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")


def viewer(request: Request) -> Principal | None:
    """The logged-in user of a page, for the header (None: anonymous, or not resolved)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal


def session_csrf(request: Request) -> str:
    """The CSRF token of the page's web session, for its forms (logout in the header)."""
    session: WebSession | None = getattr(request.state, "web_session", None)
    return session.csrf_secret if session is not None else ""


TEMPLATES.env.globals["viewer"] = viewer
TEMPLATES.env.globals["session_csrf"] = session_csrf


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
