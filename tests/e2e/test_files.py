"""Files through the official SDK: upload, list, retrieve, content, delete, and bad uploads."""

from __future__ import annotations

import io

import httpx
import openai
import pytest


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
