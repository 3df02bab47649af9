"""`GET /v1/threads` (an extension): a project's threads, cursor-paged like every list, filtered
by metadata key/value, never another project's."""

from __future__ import annotations

import httpx

from tests.conftest import KEY_B, sdk
from tests.support.server import RunningServer
from tests.support.spec import validate_component


def _ids(page: dict[str, object]) -> list[str]:
    return [thread["id"] for thread in page["data"]]  # type: ignore[attr-defined, index]


def test_threads_list_pages_and_filters(http: httpx.Client) -> None:
    tag = f"t{id(http)}"
    made = [
        http.post(
            "/threads", json={"metadata": {"batch": tag, "user": "ann" if i % 2 else "bob"}}
        ).json()["id"]
        for i in range(7)
    ]
    page = http.get("/threads", params={"metadata[batch]": tag, "limit": 3}).json()
    assert page["object"] == "list"
    assert _ids(page) == made[::-1][:3]  # newest first by default
    assert (page["first_id"], page["last_id"], page["has_more"]) == (made[6], made[4], True)
    for thread in page["data"]:
        validate_component("ThreadObject", thread)
    seen: list[str] = []
    after = None
    while True:
        params = {"metadata[batch]": tag, "order": "asc", "limit": 2}
        if after:
            params["after"] = after
        page = http.get("/threads", params=params).json()
        seen += _ids(page)
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == made
    before = http.get(
        "/threads", params={"metadata[batch]": tag, "order": "asc", "before": made[3]}
    ).json()
    assert _ids(before) == made[:3]
    ann = http.get("/threads", params={"metadata[batch]": tag, "metadata[user]": "ann"}).json()
    assert _ids(ann) == [made[5], made[3], made[1]]
    assert http.get("/threads", params={"metadata[batch]": "nothing-has-this"}).json() == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }
    # a thread whose metadata changes moves in and out of the filter
    http.post(f"/threads/{made[0]}", json={"metadata": {"batch": "moved"}})
    assert made[0] not in _ids(http.get("/threads", params={"metadata[batch]": tag}).json())
    # deleted threads are gone from the list
    http.delete(f"/threads/{made[1]}")
    assert made[1] not in _ids(
        http.get("/threads", params={"metadata[batch]": tag, "limit": 100}).json()
    )


def test_threads_list_is_per_project_and_checks_its_parameters(
    http: httpx.Client, server: RunningServer
) -> None:
    mine = http.post("/threads", json={"metadata": {"owner": "alpha-only"}}).json()["id"]
    with httpx.Client(base_url=server.api, headers={"Authorization": f"Bearer {KEY_B}"}) as beta:
        theirs = beta.get("/threads", params={"limit": 100}).json()
        assert mine not in _ids(theirs)
        assert beta.get("/threads", params={"metadata[owner]": "alpha-only"}).json()["data"] == []
    assert mine in _ids(http.get("/threads", params={"metadata[owner]": "alpha-only"}).json())
    # the README's way from Python: the SDK's generic get
    with sdk(server) as client:
        page = client.get(
            "/threads", cast_to=object, options={"params": {"metadata[owner]": "alpha-only"}}
        )
    assert _ids(page) == [mine]  # type: ignore[arg-type]
    too_many = http.get("/threads", params={"limit": 101})
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "limit"
    long_key = http.get("/threads", params={f"metadata[{'k' * 65}]": "v"})
    assert long_key.status_code == 400
    assert long_key.json()["error"]["param"] == f"metadata[{'k' * 65}]"
    bad_order = http.get("/threads", params={"order": "sideways"})
    assert bad_order.status_code == 400 and bad_order.json()["error"]["param"] == "order"
