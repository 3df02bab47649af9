"""Project isolation: another project's objects answer exactly like ids that don't exist, on
every endpoint, and never appear in a list (OWASP API1, broken object level authorization)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import KEY_A, KEY_B
from tests.support.server import RunningServer


@pytest.fixture
def alpha_objects(server: RunningServer) -> dict[str, str]:
    with httpx.Client(base_url=server.api, headers={"Authorization": f"Bearer {KEY_A}"}) as http:
        file_id = http.post(
            "/files", files={"file": ("a.txt", b"secret")}, data={"purpose": "assistants"}
        ).json()["id"]
        assistant = http.post("/assistants", json={"model": "gpt-4o"}).json()["id"]
        thread = http.post("/threads", json={}).json()["id"]
        message = http.post(
            f"/threads/{thread}/messages", json={"role": "user", "content": "secret"}
        ).json()["id"]
        run = http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant}).json()["id"]
        deadline = time.monotonic() + 30
        while http.get(f"/threads/{thread}/runs/{run}").json()["status"] != "completed":
            assert time.monotonic() < deadline, "the run did not complete"
            time.sleep(0.05)
        step = http.get(f"/threads/{thread}/runs/{run}/steps").json()["data"][0]["id"]
        store = http.post("/vector_stores", json={"file_ids": [file_id]}).json()["id"]
    return {
        "file": file_id,
        "assistant": assistant,
        "thread": thread,
        "message": message,
        "run": run,
        "step": step,
        "store": store,
    }


def _requests(o: dict[str, str]) -> list[tuple[str, str, dict[str, object] | None]]:
    t, m, r, v = o["thread"], o["message"], o["run"], o["store"]
    return [
        ("GET", f"/assistants/{o['assistant']}", None),
        ("POST", f"/assistants/{o['assistant']}", {"name": "x"}),
        ("DELETE", f"/assistants/{o['assistant']}", None),
        ("GET", f"/threads/{t}", None),
        ("POST", f"/threads/{t}", {"metadata": {"a": "b"}}),
        ("DELETE", f"/threads/{t}", None),
        ("GET", f"/threads/{t}/messages", None),
        ("POST", f"/threads/{t}/messages", {"role": "user", "content": "x"}),
        ("GET", f"/threads/{t}/messages/{m}", None),
        ("POST", f"/threads/{t}/messages/{m}", {"metadata": {"a": "b"}}),
        ("DELETE", f"/threads/{t}/messages/{m}", None),
        ("GET", f"/files/{o['file']}", None),
        ("GET", f"/files/{o['file']}/content", None),
        ("DELETE", f"/files/{o['file']}", None),
        ("GET", f"/threads/{t}/runs", None),
        ("POST", f"/threads/{t}/runs", {"assistant_id": o["assistant"]}),
        ("POST", "/threads/runs", {"assistant_id": o["assistant"]}),
        ("GET", f"/threads/{t}/runs/{r}", None),
        ("POST", f"/threads/{t}/runs/{r}", {"metadata": {"a": "b"}}),
        ("POST", f"/threads/{t}/runs/{r}/cancel", None),
        ("POST", f"/threads/{t}/runs/{r}/submit_tool_outputs", {"tool_outputs": []}),
        ("GET", f"/threads/{t}/runs/{r}/steps", None),
        ("GET", f"/threads/{t}/runs/{r}/steps/{o['step']}", None),
        ("GET", f"/vector_stores/{v}", None),
        ("POST", f"/vector_stores/{v}", {"name": "x"}),
        ("POST", f"/vector_stores/{v}/search", {"query": "secret"}),
        ("GET", f"/vector_stores/{v}/files", None),
        ("POST", f"/vector_stores/{v}/files", {"file_id": o["file"]}),
        ("GET", f"/vector_stores/{v}/files/{o['file']}", None),
        ("GET", f"/vector_stores/{v}/files/{o['file']}/content", None),
        ("POST", f"/vector_stores/{v}/files/{o['file']}", {"attributes": {"a": "b"}}),
        ("POST", f"/vector_stores/{v}/file_batches", {"file_ids": [o["file"]]}),
        ("DELETE", f"/vector_stores/{v}/files/{o['file']}", None),
        ("DELETE", f"/vector_stores/{v}", None),
    ]


def _same_as_missing(
    http: httpx.Client, method: str, path: str, body: object, real: dict[str, str]
) -> None:
    response = http.request(method, path, json=body)
    missing_path = path
    for object_id in real.values():
        missing_path = missing_path.replace(object_id, object_id[:-6] + "ZZZZZZ")
    missing = http.request(method, missing_path, json=body)
    assert response.status_code == missing.status_code == 404, (method, path)
    expected = missing.json()
    for object_id in real.values():
        expected = _replace(expected, object_id[:-6] + "ZZZZZZ", object_id)
    assert response.json() == expected, (method, path)


def _replace(value: object, old: str, new: str) -> object:
    if isinstance(value, dict):
        return {key: _replace(item, old, new) for key, item in value.items()}
    if isinstance(value, str):
        return value.replace(old, new)
    return value


def test_other_project_gets_not_found_everywhere(
    server: RunningServer, alpha_objects: dict[str, str]
) -> None:
    with httpx.Client(base_url=server.api, headers={"Authorization": f"Bearer {KEY_B}"}) as beta:
        for method, path, body in _requests(alpha_objects):
            _same_as_missing(beta, method, path, body, alpha_objects)
        listed = [a["id"] for a in beta.get("/assistants", params={"limit": 100}).json()["data"]]
        assert alpha_objects["assistant"] not in listed
        files = [f["id"] for f in beta.get("/files").json()["data"]]
        assert alpha_objects["file"] not in files
        # Referencing alpha's file from beta's objects is refused as unknown.
        response = beta.post(
            "/assistants",
            json={
                "model": "gpt-4o",
                "tool_resources": {"code_interpreter": {"file_ids": [alpha_objects["file"]]}},
            },
        )
        assert response.status_code == 400
        assert response.json()["error"]["message"] == (
            f"No file found with id '{alpha_objects['file']}'."
        )
    # Nothing beta tried changed alpha's objects.
    with httpx.Client(base_url=server.api, headers={"Authorization": f"Bearer {KEY_A}"}) as alpha:
        assert alpha.get(f"/assistants/{alpha_objects['assistant']}").json()["name"] is None
        messages = alpha.get(f"/threads/{alpha_objects['thread']}/messages").json()["data"]
        # Alpha's question and its run's answer, and nothing beta tried to add.
        assert [m["role"] for m in messages] == ["assistant", "user"]
        assert messages[1]["id"] == alpha_objects["message"]
        assert alpha.get(f"/files/{alpha_objects['file']}/content").content == b"secret"


def test_bad_or_missing_key_is_401(server: RunningServer) -> None:
    for headers in ({}, {"Authorization": "Bearer sk-wrong"}, {"Authorization": "Basic abc"}):
        response = httpx.get(f"{server.api}/assistants", headers=headers)
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "invalid_api_key"
        assert error["type"] == "invalid_request_error"
