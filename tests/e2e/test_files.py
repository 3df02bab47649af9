"""Files through the official SDK: upload, list, retrieve, content, delete, and bad uploads."""

from __future__ import annotations

import io
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import BLOB_BACKENDS, KEY_A, make_settings, serve_backend
from tests.fakes.upstream import FakeUpstream
from tests.support.server import RunningServer, run_server


@pytest.fixture(scope="module", params=BLOB_BACKENDS)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: FakeUpstream,
) -> Iterator[RunningServer]:
    """Files on SQLite, PostgreSQL, and PostgreSQL with the S3 blob store."""
    yield from serve_backend(request, tmp_path_factory, fake_upstream)


def test_upload_list_content_delete(client: openai.OpenAI) -> None:
    payload = "名前,値\na,1\n".encode() * 1000
    uploaded = client.files.create(file=("データ.csv", io.BytesIO(payload)), purpose="assistants")
    assert uploaded.id.startswith("file-")
    assert (uploaded.object, uploaded.bytes, uploaded.filename) == (
        "file",
        len(payload),
        "データ.csv",
    )
    assert (uploaded.purpose, uploaded.status) == ("assistants", "processed")
    assert client.files.retrieve(uploaded.id) == uploaded
    assert client.files.content(uploaded.id).content == payload
    assert client.files.wait_for_processing(uploaded.id).status == "processed"

    ids = [f.id for f in client.files.list(purpose="assistants")]
    assert uploaded.id in ids
    assert uploaded.id not in [f.id for f in client.files.list(purpose="vision")]

    deleted = client.files.delete(uploaded.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (uploaded.id, "file", True)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(uploaded.id)


def test_bad_purpose_and_missing_file(http: httpx.Client) -> None:
    response = http.post("/files", files={"file": ("a.txt", b"x")}, data={"purpose": "nope"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "purpose"
    response = http.post("/files", data={"purpose": "assistants"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"


def test_non_utf8_file_name_is_rejected(http: httpx.Client) -> None:
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'
        ).encode()
        + b"\xff\xfe.txt"
        + (f'"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n').encode()
    )
    response = http.post(
        "/files",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"
    listed = http.get("/files").json()["data"]
    assert all(item["filename"] != "ÿþ.txt" for item in listed)


def test_file_name_path_is_stripped(http: httpx.Client) -> None:
    response = http.post(
        "/files", files={"file": ("../../etc/passwd", b"x")}, data={"purpose": "assistants"}
    )
    assert response.status_code == 200
    assert response.json()["filename"] == "passwd"


def test_expires_after_sets_expires_at_and_the_file_goes(tmp_path: Path) -> None:
    db_path = tmp_path / "test.db"
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{db_path}")
    with run_server(settings) as server, openai.OpenAI(base_url=server.api, api_key=KEY_A) as sdk:
        uploaded = sdk.files.create(
            file=("a.txt", io.BytesIO(b"soon gone")),
            purpose="assistants",
            expires_after={"anchor": "created_at", "seconds": 3600},
        )
        assert uploaded.expires_at == uploaded.created_at + 3600
        assert sdk.files.retrieve(uploaded.id).expires_at == uploaded.expires_at
        kept = sdk.files.create(file=("b.txt", io.BytesIO(b"stays")), purpose="assistants")
        assert kept.expires_at is None
        # An hour passes (for this file).
        with sqlite3.connect(db_path) as db:
            db.execute("UPDATE files SET expires_at = 1 WHERE id = ?", (uploaded.id,))
        deadline = time.monotonic() + 10
        while uploaded.id in [f.id for f in sdk.files.list()]:
            assert time.monotonic() < deadline, "the expired file is still listed"
            time.sleep(0.1)
        with pytest.raises(openai.NotFoundError):
            sdk.files.retrieve(uploaded.id)
        with pytest.raises(openai.NotFoundError):
            sdk.files.content(uploaded.id)
        assert sdk.files.retrieve(kept.id).id == kept.id
        assert not (tmp_path / "files" / uploaded.id[-2:] / uploaded.id).exists()
        assert (tmp_path / "files" / kept.id[-2:] / kept.id).exists()


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        (
            {"expires_after[anchor]": "created_at", "expires_after[seconds]": "3599"},
            "expires_after.seconds",
        ),
        (
            {"expires_after[anchor]": "created_at", "expires_after[seconds]": "2592001"},
            "expires_after.seconds",
        ),
        (
            {"expires_after[anchor]": "created_at", "expires_after[seconds]": "1e4"},
            "expires_after.seconds",
        ),
        ({"expires_after[anchor]": "created_at"}, "expires_after.seconds"),
        (
            {"expires_after[anchor]": "last_active_at", "expires_after[seconds]": "3600"},
            "expires_after.anchor",
        ),
        ({"expires_after[seconds]": "3600"}, "expires_after.anchor"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_upload_fields_are_400(http: httpx.Client, fields: dict[str, str], param: str) -> None:
    response = http.post(
        "/files", files={"file": ("a.txt", b"x")}, data={"purpose": "assistants", **fields}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
