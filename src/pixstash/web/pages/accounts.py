"""Account pages: register, log in, log out, "My images" (edit, delete), API tokens, and
the administrator's section. Every form carries a CSRF token (see ``web.auth``)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pixstash.domain.accounts import PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, Principal
from pixstash.errors import InvalidPassword, PixstashError
from pixstash.services.library import PAGE_DEFAULT
from pixstash.web.auth import (
    CSRF_FIELD,
    anonymous_csrf_nonce,
    anonymous_csrf_token,
    check_anonymous_csrf,
    check_session_csrf,
    clear_session_cookie,
    safe_next,
    session_cookie_name,
    set_anonymous_csrf_cookie,
    set_session_cookie,
)
from pixstash.web.deps import (
    ContainerDep,
    LinksDep,
    RequireUserDep,
    current_principal,
    web_session,
)
from pixstash.web.pages.render import render
from pixstash.web.ratelimit import enforce_login_limit

router = APIRouter(include_in_schema=False, dependencies=[Depends(current_principal)])

CsrfField = Annotated[str, Form(alias=CSRF_FIELD)]
_LIMITS = {"password_min": PASSWORD_MIN, "password_max": PASSWORD_MAX, "name_max": USERNAME_MAX}


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _anonymous_form(
    request: Request,
    container: ContainerDep,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    settings = container.settings
    nonce = anonymous_csrf_nonce(request, settings)
    context = {**_LIMITS, **context, "csrf_token": anonymous_csrf_token(settings, nonce)}
    response = render(request, template, context, status_code=status_code)
    set_anonymous_csrf_cookie(response, settings, nonce)
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused_form(
    request: Request,
    container: ContainerDep,
    template: str,
    context: dict[str, Any],
    exc: PixstashError,
) -> HTMLResponse:
    response = _anonymous_form(request, container, template, context, exc.status)
    if exc.retry_after is not None:  # 429: too many attempts
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _session_csrf(request: Request, token: str) -> None:
    check_session_csrf(web_session(request), token)


async def _start_session(
    request: Request, container: ContainerDep, username: str, password: str, next_url: str
) -> Response:
    old = request.cookies.get(session_cookie_name(container.settings))
    if old:  # a new login never reuses a session (fixation)
        await container.accounts.logout(old)
    login = await container.accounts.login(username, password)
    response = _see_other(safe_next(next_url))
    set_session_cookie(response, container.settings, login.secret)
    return response


# --- register, log in, log out ------------------------------------------------------


@router.get("/register", response_class=HTMLResponse)
async def register_page(request: Request, container: ContainerDep) -> HTMLResponse:
    open_ = container.settings.registration
    return _anonymous_form(request, container, "register.html", {"registration_open": open_})


@router.post("/register", response_model=None)
async def register(
    request: Request,
    container: ContainerDep,
    csrf_token: CsrfField = "",
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=PASSWORD_MAX * 4)] = "",
    password_again: Annotated[str, Form(max_length=PASSWORD_MAX * 4)] = "",
) -> Response:
    check_anonymous_csrf(request, container.settings, csrf_token)
    try:
        await enforce_login_limit(request)
        if password != password_again:
            raise InvalidPassword("The two passwords differ; type the same one twice.")
        await container.accounts.register(username, password)
        return await _start_session(request, container, username, password, "/me")
    except PixstashError as exc:
        context = {"registration_open": container.settings.registration, "error": exc.message}
        context["username"] = username
        return _refused_form(request, container, "register.html", context, exc)


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, container: ContainerDep, next: Annotated[str, Query()] = "/me"
) -> HTMLResponse:
    return _anonymous_form(request, container, "login.html", {"next": safe_next(next)})


@router.post("/login", response_model=None)
async def login(
    request: Request,
    container: ContainerDep,
    csrf_token: CsrfField = "",
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=PASSWORD_MAX * 4)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/me",
) -> Response:
    check_anonymous_csrf(request, container.settings, csrf_token)
    try:
        await enforce_login_limit(request)
        return await _start_session(request, container, username, password, next)
    except PixstashError as exc:
        context = {"error": exc.message, "username": username, "next": safe_next(next)}
        return _refused_form(request, container, "login.html", context, exc)


@router.post("/logout")
async def logout(
    request: Request, container: ContainerDep, csrf_token: CsrfField = ""
) -> RedirectResponse:
    secret = request.cookies.get(session_cookie_name(container.settings))
    if secret and web_session(request) is not None:
        _session_csrf(request, csrf_token)
        await container.accounts.logout(secret)
    response = _see_other("/")
    clear_session_cookie(response, container.settings)
    return response


# --- My images ------------------------------------------------------------------------


@router.get("/me", response_class=HTMLResponse)
async def my_images_page(
    request: Request,
    principal: RequireUserDep,
    container: ContainerDep,
    links: LinksDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    disabled: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    page = await container.library.list_owned(principal.user_id, limit=PAGE_DEFAULT, cursor=cursor)
    items = [{"image": image, "links": links.for_image(image)} for image in page.images]
    context = {
        "items": items,
        "next_cursor": page.next_cursor,
        "first_page": cursor is None,
        "disabled_user": disabled,
        **_session_context(request, principal),
    }
    return render(request, "me.html", context)


def _session_context(request: Request, principal: Principal) -> dict[str, Any]:
    session = web_session(request)
    return {"me": principal, "csrf_token": session.csrf_secret if session else ""}


@router.post("/me/images/{image_id:publicid}")
async def edit_image(
    request: Request,
    image_id: str,
    principal: RequireUserDep,
    container: ContainerDep,
    csrf_token: CsrfField = "",
    title: Annotated[str, Form(max_length=10_000)] = "",
    description: Annotated[str, Form(max_length=100_000)] = "",
) -> RedirectResponse:
    _session_csrf(request, csrf_token)
    changes: dict[str, str | None] = {"title": title, "description": description}
    await container.library.update_text(image_id, changes, principal=principal)
    return _see_other("/me")


@router.post("/me/images/{image_id:publicid}/delete")
async def delete_image(
    request: Request,
    image_id: str,
    principal: RequireUserDep,
    container: ContainerDep,
    csrf_token: CsrfField = "",
) -> RedirectResponse:
    _session_csrf(request, csrf_token)
    await container.images.delete(image_id, None, principal=principal)
    return _see_other("/me")


# --- API tokens ---------------------------------------------------------------------


async def _tokens_page(
    request: Request,
    principal: Principal,
    container: ContainerDep,
    created: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tokens = await container.accounts.list_tokens(principal.user_id)
    context = {"tokens": tokens, "created": created, **_session_context(request, principal)}
    response = render(request, "tokens.html", context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/me/tokens", response_class=HTMLResponse)
async def tokens_page(
    request: Request, principal: RequireUserDep, container: ContainerDep
) -> HTMLResponse:
    return await _tokens_page(request, principal, container)


@router.post("/me/tokens", response_class=HTMLResponse)
async def create_token(
    request: Request,
    principal: RequireUserDep,
    container: ContainerDep,
    csrf_token: CsrfField = "",
    name: Annotated[str, Form(max_length=1000)] = "",
) -> HTMLResponse:
    _session_csrf(request, csrf_token)
    created = await container.accounts.create_token(principal.user_id, name)
    return await _tokens_page(request, principal, container, created.token, 201)


@router.post("/me/tokens/{token_id}/revoke")
async def revoke_token(
    request: Request,
    token_id: int,
    principal: RequireUserDep,
    container: ContainerDep,
    csrf_token: CsrfField = "",
) -> RedirectResponse:
    _session_csrf(request, csrf_token)
    await container.accounts.revoke_token(principal.user_id, token_id)
    return _see_other("/me/tokens")


# --- administrators -----------------------------------------------------------------


@router.post("/admin/users/disable")
async def disable_user(
    request: Request,
    principal: RequireUserDep,
    container: ContainerDep,
    csrf_token: CsrfField = "",
    username: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    _session_csrf(request, csrf_token)
    user = await container.accounts.disable_username(principal, username)
    return _see_other(f"/me?{urlencode({'disabled': user.username})}")
