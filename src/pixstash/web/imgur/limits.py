"""Imgur's rate-limit headers and ``/3/credits``, from the limiter's decisions.

Imgur counts credits per application (``Client``) and per user (``User``); pixstash maps
them onto its own rules (``web.ratelimit``, settings ``PIXSTASH_RATE_LIMIT_*``):

- with ``Client-ID``: Client = requests per Client-ID, User = requests per client IP;
- with ``Bearer``: both are the API token's requests (each token is its own client);
- on uploads, X-Post-Rate-Limit-* = the upload limit (per client IP, or per user);
  its Reset is in seconds from now, as Imgur's, the others' in epoch seconds.

Every request costs one credit (Imgur charges 10 for an upload; pixstash counts uploads
in their own limit instead). A rule without a limit (empty setting), or not counted
because the cache is down and rate limits are skipped, sends no header.
"""

from __future__ import annotations

import time

from starlette.requests import Request

from pixstash.security.base import (
    REQUESTS_PER_CLIENT_ID,
    REQUESTS_PER_IP,
    REQUESTS_PER_TOKEN,
    UPLOADS_PER_IP,
    UPLOADS_PER_USER,
    RateLimitDecision,
)
from pixstash.web.ratelimit import rule_decision


def _first(request: Request, *rules: str) -> RateLimitDecision | None:
    for rule in rules:
        decision = rule_decision(request, rule)
        if decision is not None:
            return decision
    return None


def client_decision(request: Request) -> RateLimitDecision | None:
    return _first(request, REQUESTS_PER_CLIENT_ID, REQUESTS_PER_TOKEN)


def user_decision(request: Request) -> RateLimitDecision | None:
    return _first(request, REQUESTS_PER_IP, REQUESTS_PER_TOKEN)


def post_decision(request: Request) -> RateLimitDecision | None:
    return _first(request, UPLOADS_PER_IP, UPLOADS_PER_USER)


def imgur_rate_headers(request: Request) -> dict[str, str]:
    """Plain integers, as Imgur sends them; resets are epoch seconds."""
    headers: dict[str, str] = {}
    client = client_decision(request)
    if client is not None:
        headers["X-RateLimit-ClientLimit"] = str(client.limit)
        headers["X-RateLimit-ClientRemaining"] = str(client.remaining)
    user = user_decision(request)
    if user is not None:
        headers["X-RateLimit-UserLimit"] = str(user.limit)
        headers["X-RateLimit-UserRemaining"] = str(user.remaining)
        headers["X-RateLimit-UserReset"] = str(user.reset_at)
    post = post_decision(request)
    if post is not None:
        headers["X-Post-Rate-Limit-Limit"] = str(post.limit)
        headers["X-Post-Rate-Limit-Remaining"] = str(post.remaining)
        # Imgur sends seconds until the POST limit frees up here, not a timestamp
        headers["X-Post-Rate-Limit-Reset"] = str(max(0, post.reset_at - int(time.time())))
    return headers
