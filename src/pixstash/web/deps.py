"""Dependencies that routes declare (``ContainerDep``, ``LinksDep``, ``PrincipalDep``,
``RequireUserDep``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pixstash.domain.accounts import Principal, WebSession
from pixstash.errors import AuthenticationRequired, InvalidToken
from pixstash.services.links import LinkBuilder
from pixstash.web.auth import check_api_csrf, session_cookie_name
from pixstash.web.ratelimit import enforce_token_limit
from pixstash.wiring import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_links(request: Request) -> LinkBuilder:
    return get_container(request).links(str(request.base_url))


ContainerDep = Annotated[Container, Depends(get_container)]
LinksDep = Annotated[LinkBuilder, Depends(get_links)]


_UNRESOLVED = object()
# Documents the scheme in OpenAPI (/docs "Authorize"); the header is read below.
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="api-token",
    description="A personal API token (`pxs_...`) from /me/tokens or `POST /api/v1/me/tokens`.",
)


async def current_principal(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)] = None,
) -> Principal | None:
    """Who is asking: ``Authorization: Bearer <api token>`` (a bad, revoked or disabled
    one is 401 invalid-token, never anonymous), else the session cookie (an unknown or
    expired one is anonymous), else None. Other schemes (Imgur's ``Client-ID``) are
    anonymous. Resolved once per request; pages find it in ``request.state``."""
    cached = getattr(request.state, "principal", _UNRESOLVED)
    if cached is None or isinstance(cached, Principal):
        return cached
    container = get_container(request)
    principal: Principal | None = None
    session: WebSession | None = None
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        if not credentials.strip():
            raise InvalidToken("The Authorization header has no token after 'Bearer'.")
        principal = await container.accounts.token_principal(credentials.strip())
        await enforce_token_limit(request, principal)  # every token request counts
    else:
        secret = request.cookies.get(session_cookie_name(container.settings))
        found = await container.accounts.session_principal(secret) if secret else None
        if found is not None:
            principal, session = found
            if request.url.path.startswith("/api/"):
                check_api_csrf(request, container.settings, session)
    request.state.principal = principal
    request.state.web_session = session
    return principal


def web_session(request: Request) -> WebSession | None:
    """The browser session of this request (after ``current_principal`` ran)."""
    session: WebSession | None = getattr(request.state, "web_session", None)
    return session


async def require_user(
    principal: Annotated[Principal | None, Depends(current_principal)],
) -> Principal:
    """The logged-in user; 401 authentication-required for the API, a redirect to
    /login for pages (see ``web.errors``)."""
    if principal is None:
        raise AuthenticationRequired()
    return principal


PrincipalDep = Annotated[Principal | None, Depends(current_principal)]
RequireUserDep = Annotated[Principal, Depends(require_user)]
