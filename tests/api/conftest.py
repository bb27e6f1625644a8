"""API tests hash passwords with cheap argon2id parameters: the production ones cost
~0.3 s a hash on a CI runner, and accounts tests register and log in a lot. The
parameters themselves are tested in tests/unit/services/test_accounts.py."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from tests.helpers import container_of

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(request: pytest.FixtureRequest) -> None:
    if "app" in request.fixturenames:
        container_of(request.getfixturevalue("app")).accounts.hasher = CHEAP_HASHER
