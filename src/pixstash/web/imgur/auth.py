"""Who calls the Imgur API: ``Authorization: Client-ID <id>`` (anonymous, as an
application) or ``Authorization: Bearer <pixstash API token>`` (that user).

With ``PIXSTASH_IMGUR_CLIENT_IDS`` empty (the default) any well-formed Client-ID is
accepted: tools ship Imgur Client-IDs built in, and drop-in means only the base URL
changes. Listing ids there accepts those only (403 for others). The browser session
cookie is not used here: every /3/ caller names itself in ``Authorization``, like
Imgur's. No Authorization header at all is 401, as Imgur answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from pixstash.domain.accounts import Principal
from pixstash.errors import AuthenticationRequired, Forbidden
from pixstash.web.deps import current_principal, get_container
from pixstash.web.ratelimit import enforce_client_id_limit

_CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}")


@dataclass(frozen=True, slots=True)
class ImgurCaller:
    principal: Principal | None  # a Bearer token's user; None: anonymous
    client_id: str | None  # the Client-ID of an anonymous caller

    @property
    def user_id(self) -> int | None:
        return self.principal.user_id if self.principal else None


AUTH_REQUIRED = (
    "Authentication required: send 'Authorization: Client-ID <client id>' (anonymous) or "
    "'Authorization: Bearer <api token>'."
)


async def imgur_caller(request: Request) -> ImgurCaller:
    scheme, _, credentials = request.headers.get("authorization", "").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        # counts the token's requests; a bad token is 401 invalid-token
        return ImgurCaller(await current_principal(request), None)
    if scheme.lower() != "client-id" or not credentials:
        raise AuthenticationRequired(AUTH_REQUIRED)
    allowed = get_container(request).settings.imgur_client_ids
    if not _CLIENT_ID.fullmatch(credentials) or (allowed and credentials not in allowed):
        raise Forbidden("Invalid client_id: this server does not accept this Client-ID.")
    await enforce_client_id_limit(request, credentials)
    return ImgurCaller(None, credentials)


CallerDep = Annotated[ImgurCaller, Depends(imgur_caller)]
