"""The API fuzzed by schemathesis from its own OpenAPI description: whatever comes in, no
answer is a server error, and none shows a raw value of an identifying column."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.server_office import PASSWORD, Office, make_office

pytestmark = pytest.mark.slow
SEEN: list[tuple[str, int]] = []
"""Every call's method and status."""


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Office:
    return make_office(tmp_path_factory.mktemp("fuzz-office"))


@pytest.fixture(scope="module")
def app(office: Office) -> FastAPI:
    return office.app(login_attempts=10_000)


@pytest.fixture(scope="module")
def token(app: FastAPI) -> str:
    """An API token of the steward (most routes are a steward's)."""
    with TestClient(app, base_url="https://testserver") as client:
        csrf = client.post(
            "/api/v1/session", json={"actor": "steward", "password": PASSWORD}
        ).json()["csrf"]
        made = client.post("/api/v1/tokens", json={"days": 1}, headers={"x-csrf-token": csrf})
        return str(made.json()["token"])


@pytest.fixture(scope="module")
def raw(office: Office) -> set[str]:
    return office.raw_values(("resident_id", "phone", "address"), limit=500)


def test_no_input_makes_a_server_error_or_shows_a_raw_value(
    app: FastAPI, token: str, raw: set[str]
) -> None:
    """Every operation of the OpenAPI description, with inputs schemathesis generates."""
    from hypothesis import given

    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            SEEN.append((case.method, response.status_code))
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, (where, response.text[:300])
            assert not [v for v in raw if v in response.text], where
            kind = "".join(response.headers.get("content-type", []))
            if response.status_code >= 400 and kind.startswith("application/json"):
                assert set(response.json()) <= {"error", "message", "details"}, where

        try:
            fuzz()
        except Unsatisfiable:  # nothing to make invalid (an operation without parameters)
            assert mode is GenerationMode.NEGATIVE
    statuses = {status for _, status in SEEN}
    assert {200, 400, 422} <= statuses  # answered, refused by the library, and by validation
