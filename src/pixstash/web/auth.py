"""Session cookies and CSRF protection.

- The session cookie holds a random secret (the server keeps its SHA-256 and the session
  row, so logout and disabling a user end it at once). It is HttpOnly, SameSite=Lax,
  and with an https ``PIXSTASH_PUBLIC_URL`` Secure and named with the ``__Host-`` prefix
  (no Domain, Path=/: no sibling subdomain can set or shadow it).
- Forms of a logged-in user carry the session's CSRF secret (synchroniser token).
- Forms before login (login, register) use a signed double-submit token: a random
  cookie, and in the form its HMAC under the secret key.
- The API accepts the session cookie for unsafe methods only from our own origin (the
  ``Origin`` header browsers send) or with ``X-CSRF-Token``; bearer tokens need neither.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from pixstash.config import Settings
from pixstash.domain.accounts import WebSession
from pixstash.errors import CsrfFailed

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_ANON_CSRF_MAX_AGE = 24 * 3600


def is_https(settings: Settings) -> bool:
    return bool(settings.public_url and settings.public_url.lower().startswith("https://"))


def _cookie_name(settings: Settings, name: str) -> str:
    return f"__Host-pixstash_{name}" if is_https(settings) else f"pixstash_{name}"


def session_cookie_name(settings: Settings) -> str:
    return _cookie_name(settings, "session")


def csrf_cookie_name(settings: Settings) -> str:
    return _cookie_name(settings, "csrf")


def _set_cookie(response: Response, settings: Settings, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path="/",
        secure=is_https(settings),
        httponly=True,
        samesite="lax",
    )


def set_session_cookie(response: Response, settings: Settings, secret: str) -> None:
    _set_cookie(response, settings, session_cookie_name(settings), secret, settings.session_seconds)


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        session_cookie_name(settings),
        path="/",
        secure=is_https(settings),
        httponly=True,
        samesite="lax",
    )


# --- forms before login: signed double-submit -----------------------------------


def _sign(settings: Settings, nonce: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"pixstash-csrf\n{nonce}".encode(), hashlib.sha256).hexdigest()


def anonymous_csrf_nonce(request: Request, settings: Settings) -> str:
    """The visitor's double-submit nonce (from its cookie, or a new one)."""
    return request.cookies.get(csrf_cookie_name(settings)) or secrets.token_urlsafe(24)


def anonymous_csrf_token(settings: Settings, nonce: str) -> str:
    """The token for a form shown before login: the nonce signed with the secret key."""
    return _sign(settings, nonce)


def set_anonymous_csrf_cookie(response: Response, settings: Settings, nonce: str) -> None:
    _set_cookie(response, settings, csrf_cookie_name(settings), nonce, _ANON_CSRF_MAX_AGE)


def check_anonymous_csrf(request: Request, settings: Settings, token: str) -> None:
    nonce = request.cookies.get(csrf_cookie_name(settings))
    if not nonce or not token or not hmac.compare_digest(_sign(settings, nonce), token):
        raise CsrfFailed()


# --- forms and API calls of a logged-in user --------------------------------------


def check_session_csrf(session: WebSession | None, token: str | None) -> None:
    if session is None or not token or not hmac.compare_digest(session.csrf_secret, token):
        raise CsrfFailed()


def is_own_origin(origin: str, request: Request, settings: Settings) -> bool:
    """Is ``origin`` this site? With ``PIXSTASH_PUBLIC_URL``, its scheme and host; else
    the request's host (behind a TLS-terminating proxy the app sees http, the browser
    says https)."""
    parts = urlsplit(origin.lower())
    if settings.public_url:
        public = urlsplit(settings.public_url.lower())
        return (parts.scheme, parts.netloc) == (public.scheme, public.netloc)
    return bool(parts.netloc) and parts.netloc == request.headers.get("host", "").lower()


def check_api_csrf(request: Request, settings: Settings, session: WebSession) -> None:
    """A cookie-authenticated API call that changes something comes from our pages (their
    ``Origin``) or carries the session's CSRF token; a cross-site page can do neither."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin and is_own_origin(origin, request, settings):
        return
    check_session_csrf(session, request.headers.get(CSRF_HEADER))


_OTHER_SITES = frozenset({"cross-site", "same-site"})


def check_not_from_other_sites(request: Request) -> None:
    """For the one GET that changes something (the ShareX config mints a token): with
    the session cookie, refused when the browser says another site, or a sibling
    subdomain, started it (``Sec-Fetch-Site``; SameSite=Lax cookies ride along on a
    top-level navigation). Links on our pages and the address bar are fine."""
    if getattr(request.state, "web_session", None) is None:
        return  # a bearer token: no ambient credential
    if request.headers.get("sec-fetch-site", "").strip().lower() in _OTHER_SITES:
        raise CsrfFailed("Open this link from your pixstash pages, not from another site.")


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (other sites) goes to /me."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/me"
