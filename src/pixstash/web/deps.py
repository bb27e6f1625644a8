"""Dependencies that routes declare (``ContainerDep``, ``LinksDep``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from pixstash.services.links import LinkBuilder
from pixstash.wiring import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_links(request: Request) -> LinkBuilder:
    return get_container(request).links(str(request.base_url))


ContainerDep = Annotated[Container, Depends(get_container)]
LinksDep = Annotated[LinkBuilder, Depends(get_links)]
