"""Rate limits: which rule a request counts against, 429, and the X-RateLimit-* headers.

- Uploads count per file, whether or not they are accepted: a refused upload costs the
  server work too. One is counted before a byte of the body is read; a multipart request
  with several files is charged the others once its body is parsed, before anything is
  stored, so a refusal (of the whole request) stores nothing either way. Anonymous
  uploads count per client IP (``web.client_ip``), a user's per user id, whichever token
  or session they use.
- Every request authenticated by a Bearer token counts against that token
  (``current_principal`` calls ``enforce_token_limit`` as it accepts the token).

Routes call ``enforce_upload_limit`` before reading the body. A decision is kept in
``request.state``; ``RateLimitHeadersMiddleware`` adds X-RateLimit-Limit, -Remaining and
-Reset (epoch seconds when a hit frees up) to the answer, a 429 included, showing the
tightest limit the request met. The Imgur-compatible API reads ``rate_decision`` for its
own header names.
"""

from __future__ import annotations

from functools import lru_cache

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixstash.domain.accounts import Principal
from pixstash.errors import RateLimited
from pixstash.security.base import (
    LOGINS_PER_IP,
    REQUESTS_PER_CLIENT_ID,
    REQUESTS_PER_IP,
    REQUESTS_PER_TOKEN,
    UPLOADS_PER_IP,
    UPLOADS_PER_USER,
    RateLimitDecision,
)
from pixstash.telemetry import prometheus
from pixstash.web.client_ip import IPAddress, IPNetwork, client_ip, parse_networks, rate_key
from pixstash.web.cors import API_PATH_PREFIXES
from pixstash.wiring import Container

_STATE_KEY = "rate_limit"
_RULES_KEY = "rate_limits"  # rule -> its decision, for the Imgur API's per-rule headers
_REFUSALS = {
    UPLOADS_PER_IP: "Too many uploads from your address",
    UPLOADS_PER_USER: "Too many uploads from your account",
    REQUESTS_PER_TOKEN: "Too many requests with this API token",
    REQUESTS_PER_CLIENT_ID: "Too many requests with this Client-ID",
    REQUESTS_PER_IP: "Too many API requests from your address",
    LOGINS_PER_IP: "Too many log-in attempts from your address",
}


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


@lru_cache(maxsize=4)
def _networks(texts: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return parse_networks(texts)


def request_client_ip(request: Request) -> IPAddress | None:
    """The client's address, believing X-Forwarded-For only from trusted proxies."""
    proxies = _networks(tuple(_container(request).settings.trusted_proxies))
    peer = request.client.host if request.client else None
    return client_ip(peer, request.headers.getlist("x-forwarded-for"), proxies)


async def enforce_upload_limit(
    request: Request, principal: Principal | None, files: int = 1
) -> RateLimitDecision | None:
    """Count ``files`` uploads; raises RateLimited (429) when over the limit.

    ``None``: the rule has no limit (or the cache is down and rate limits are skipped).
    """
    if files <= 0:
        return None
    if principal is None:
        key = rate_key(request_client_ip(request))
        return await _enforce(request, UPLOADS_PER_IP, key, files)
    return await _enforce(request, UPLOADS_PER_USER, str(principal.user_id), files)


async def enforce_login_limit(request: Request) -> RateLimitDecision | None:
    """Count a log-in or register attempt of the client IP (password guessing)."""
    return await _enforce(request, LOGINS_PER_IP, rate_key(request_client_ip(request)))


async def enforce_token_limit(
    request: Request, principal: Principal | None
) -> RateLimitDecision | None:
    """Count a request authenticated by an API token; nothing for others."""
    if principal is None or principal.token_id is None:
        return None
    return await _enforce(request, REQUESTS_PER_TOKEN, str(principal.token_id))


async def enforce_client_id_limit(request: Request, client_id: str) -> RateLimitDecision | None:
    """Count a request of the Imgur-compatible API against its Client-ID, and against
    the client IP (Imgur's per-user limit of anonymous callers)."""
    await _enforce(request, REQUESTS_PER_IP, rate_key(request_client_ip(request)))
    return await _enforce(request, REQUESTS_PER_CLIENT_ID, client_id)


def rule_decision(request: Request, rule: str) -> RateLimitDecision | None:
    """This request's decision for ``rule``, if it was counted against it."""
    decisions: dict[str, RateLimitDecision] = getattr(request.state, _RULES_KEY, {})
    return decisions.get(rule)


def rate_decision(request: Request) -> RateLimitDecision | None:
    """The tightest limit this request met so far, if any."""
    decision: RateLimitDecision | None = getattr(request.state, _STATE_KEY, None)
    return decision


def rate_limit_headers(decision: RateLimitDecision) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(decision.reset_at),
    }


async def _enforce(
    request: Request, rule: str, key: str, cost: int = 1
) -> RateLimitDecision | None:
    decision = await _container(request).limiter.hit(rule, key, cost)
    if decision is None:
        return None
    decisions: dict[str, RateLimitDecision] = getattr(request.state, _RULES_KEY, {})
    decisions[rule] = decision
    setattr(request.state, _RULES_KEY, decisions)
    shown = rate_decision(request)
    if shown is None or not decision.allowed or decision.remaining < shown.remaining:
        setattr(request.state, _STATE_KEY, decision)
    if not decision.allowed:
        prometheus.RATE_LIMIT_REFUSALS.labels(rule).inc()
        raise RateLimited(
            f"{_REFUSALS[rule]}: at most {decision.limit} in the window; retry in "
            f"{decision.retry_after} s (Retry-After).",
            retry_after=decision.retry_after,
        )
    return decision


class RateLimitHeadersMiddleware:
    """Adds the X-RateLimit-* headers of the request's decision to API answers.

    Pure ASGI and a no-op outside the API paths; it sits in the app's middleware stack,
    so cached media (answered before that stack, ``web.fastpath``) never meet it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PATH_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                decision = scope.get("state", {}).get(_STATE_KEY)
                if isinstance(decision, RateLimitDecision):
                    MutableHeaders(scope=message).update(rate_limit_headers(decision))
            await send(message)

        await self.app(scope, receive, send_with_headers)
