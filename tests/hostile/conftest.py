"""The hostile battery runs on SQLite only (what it probes is the image path, not the
metadata backend), with the anonymous upload limit off: it sends hundreds of uploads
from one address."""

from __future__ import annotations

import pytest

from pixstash.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limit_anonymous_uploads": ""})
