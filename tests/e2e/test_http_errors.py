"""Bad input over raw HTTP: OpenAI's envelope and status, never a 422 or a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.support.server import RunningServer


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]  # type: ignore[no-any-return]


def test_malformed_json(http: httpx.Client) -> None:
    response = http.post(
        "/assistants", content=b'{"model": ', headers={"Content-Type": "application/json"}
    )
    assert "could not parse the JSON body" in str(_error(response, 400)["message"])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "model"),
        ({"model": 5}, "model"),
        ({"model": "m", "name": "n" * 257}, "name"),
        ({"model": "m", "description": "d" * 513}, "description"),
        ({"model": "m", "instructions": "i" * 256_001}, "instructions"),
        ({"model": "m", "tools": [{"type": "code_interpreter"}] * 129}, "tools"),
        ({"model": "m", "tools": [{"type": "nope"}]}, "tools[0].type"),
        ({"model": "m", "top_p": 1.5}, "top_p"),
        ({"model": "m", "temperature": -1}, "temperature"),
        ({"model": "m", "reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"model": "m", "response_format": {"type": "yaml"}}, "response_format"),
        ({"model": "m", "metadata": "x"}, "metadata"),
    ],
)
def test_validation_errors_name_the_param(
    http: httpx.Client, body: dict[str, object], param: str
) -> None:
    error = _error(http.post("/assistants", json=body), 400)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_huge_body_is_refused(server: RunningServer, http: httpx.Client) -> None:
    limit = server.settings.max_json_body_bytes
    response = http.post(
        "/threads", content=b"{" + b" " * limit + b"}", headers={"Content-Type": "application/json"}
    )
    assert "too large" in str(_error(response, 400)["message"])


def test_chunked_huge_body_is_refused(server: RunningServer, http: httpx.Client) -> None:
    limit = server.settings.max_json_body_bytes

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"metadata": {"a": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}}'

    response = http.post("/threads", content=chunks(), headers={"Content-Type": "application/json"})
    assert "too large" in str(_error(response, 400)["message"])


def test_unknown_route_and_method(http: httpx.Client) -> None:
    assert "Invalid URL" in str(_error(http.get("/nope"), 404)["message"])
    _error(http.put("/assistants"), 405)


def test_readyz_reports_the_database(server: RunningServer) -> None:
    body = httpx.get(f"{server.url}/readyz").json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
