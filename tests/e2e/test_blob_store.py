"""The S3 blob store against a real S3-speaking server (moto's server mode): large files go up
in parts and come back whole, and an object that is gone, or a store that can't be reached,
answers with OpenAI's error object (404 / 503), never a 500 or a cut-off download."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from assistantd.files.blobs import BlobStoreUnavailableError
from assistantd.files.s3 import S3BlobStore
from tests.conftest import KEY_A, make_settings
from tests.support.s3 import CREDENTIALS, own_moto_server, s3_overrides
from tests.support.server import RunningServer, run_server


def _client(api: str) -> httpx.Client:
    return httpx.Client(base_url=api, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=60)


def _bucket(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["s3_access_key_id"],
        aws_secret_access_key=CREDENTIALS["s3_secret_access_key"],
    )


@pytest.fixture
def s3_server(s3_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'db'}", **s3_overrides(s3_url)
    )
    with run_server(settings) as server:
        yield server


def _upload(http: httpx.Client, data: bytes, name: str = "a.bin") -> str:
    response = http.post("/files", files={"file": (name, data)}, data={"purpose": "assistants"})
    assert response.status_code == 200, response.text
    assert response.json()["bytes"] == len(data)
    return str(response.json()["id"])


def test_a_large_file_goes_up_in_parts_and_streams_back_whole(
    s3_server: RunningServer, s3_url: str
) -> None:
    data = os.urandom(20 * 1024 * 1024 + 123)  # 8 MiB parts: three of them
    with _client(s3_server.api) as http:
        file_id = _upload(http, data)
        digest = hashlib.sha256()
        with http.stream("GET", f"/files/{file_id}/content") as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                digest.update(chunk)
        assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    settings = s3_server.settings
    head = _bucket(s3_url).head_object(Bucket=settings.s3.bucket, Key=f"blobs/{file_id}")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload's ETag: its part count


def test_a_missing_object_is_an_openai_404(s3_server: RunningServer, s3_url: str) -> None:
    with _client(s3_server.api) as http:
        file_id = _upload(http, b"here today")
        settings = s3_server.settings
        _bucket(s3_url).delete_object(Bucket=settings.s3.bucket, Key=f"blobs/{file_id}")
        assert http.get(f"/files/{file_id}").status_code == 200  # the row is still there
        response = http.get(f"/files/{file_id}/content")
        assert response.status_code == 404
        assert response.json() == {
            "error": {
                "message": f"The content of '{file_id}' is missing from the file storage.",
                "type": "invalid_request_error",
                "param": "file_id",
                "code": "file_content_missing",
            }
        }
        # ... and it can still be deleted.
        assert http.delete(f"/files/{file_id}").json()["deleted"] is True


def test_a_missing_local_file_is_an_openai_404(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'db'}")
    with run_server(settings) as server, _client(server.api) as http:
        file_id = _upload(http, b"here today")
        (tmp_path / "files" / file_id[-2:] / file_id).unlink()
        response = http.get(f"/files/{file_id}/content")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "file_content_missing"


def test_an_unreachable_store_is_an_openai_503(tmp_path: Path) -> None:
    with own_moto_server() as (url, moto):
        settings = make_settings(
            tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'db'}", **s3_overrides(url)
        )
        with run_server(settings) as server, _client(server.api) as http:
            file_id = _upload(http, b"soon out of reach")
            moto.kill()
            moto.wait()
            for response in (
                http.get(f"/files/{file_id}/content"),
                http.post("/files", files={"file": ("b", b"x")}, data={"purpose": "assistants"}),
            ):
                assert response.status_code == 503, response.text
                error = response.json()["error"]
                assert error["type"] == "server_error"
                assert error["message"].startswith("The file storage is unavailable")
            assert http.get(f"/files/{file_id}").status_code == 200  # the rest still works


async def test_a_missing_bucket_stops_the_start_saying_so(s3_url: str) -> None:
    store = S3BlobStore("no-such-bucket-here", endpoint_url=s3_url, region="us-east-1", **_keys())
    with pytest.raises(BlobStoreUnavailableError, match="'no-such-bucket-here' does not exist"):
        await store.start()
    await store.close()


def _keys() -> dict[str, str]:
    return {
        "access_key_id": CREDENTIALS["s3_access_key_id"],
        "secret_access_key": CREDENTIALS["s3_secret_access_key"],
    }
