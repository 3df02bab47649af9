"""Bad input is a clear 400 at the door, as OpenAI's: numbers no store can hold, unknown
parameters and wrong types (no coercion), with `param` naming the exact field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

JSON = {"Content-Type": "application/json"}


def _error(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "invalid_request_error"
    return body["error"]  # type: ignore[no-any-return]


def _raw(http: httpx.Client, path: str, body: str) -> httpx.Response:
    return http.post(path, content=body.encode(), headers=JSON)


def _file(http: httpx.Client) -> str:
    response = http.post(
        "/files", files={"file": ("n.txt", b"hello")}, data={"purpose": "assistants"}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _store(http: httpx.Client) -> str:
    response = http.post("/vector_stores", json={"name": "s"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _thread(http: httpx.Client) -> str:
    return str(http.post("/threads", json={}).json()["id"])


def _assistant(http: httpx.Client) -> str:
    return str(http.post("/assistants", json={"model": "m"}).json()["id"])


# --- numbers no store can hold ---------------------------------------------------------------


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity", "-Infinity"])
def test_non_finite_attribute_is_refused_and_the_store_keeps_working(
    http: httpx.Client, number: str
) -> None:
    store, file_id = _store(http), _file(http)
    body = f'{{"file_id": "{file_id}", "attributes": {{"n": {number}}}}}'
    error = _error(_raw(http, f"/vector_stores/{store}/files", body))
    assert error["param"] == "attributes.n"
    assert "finite" in error["message"]
    # Nothing was stored, and the store still answers.
    assert http.get(f"/vector_stores/{store}/files").json()["data"] == []
    assert http.get(f"/vector_stores/{store}/files/{file_id}").status_code == 404
    search = http.post(f"/vector_stores/{store}/search", json={"query": "hello"})
    assert search.status_code == 200, search.text


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/assistants", '{"model": "m", "temperature": NaN}', "temperature"),
        ("/assistants", '{"model": "m", "metadata": {"a": "b"}, "top_p": 1e999}', "top_p"),
        (
            "/assistants",
            '{"model": "m", "tools": [{"type": "function", "function": {"name": "f", '
            '"parameters": {"type": "object", "maximum": 18446744073709551616}}}]}',
            "tools[0].function.parameters.maximum",
        ),
        (
            "/assistants",
            '{"model": "m", "response_format": {"type": "json_schema", "json_schema": '
            '{"name": "s", "schema": {"type": "number", "minimum": -Infinity}}}}',
            "response_format.json_schema.schema.minimum",
        ),
        (
            "/assistants",
            '{"model": "m", "tools": [{"type": "function", "function": {"name": "f", '
            '"parameters": {"default": -9223372036854775809}}}]}',
            "tools[0].function.parameters.default",
        ),
        ("/threads", '{"metadata": {"a": "b"}, "messages": [1e400]}', "messages[0]"),
    ],
)
def test_unstorable_numbers_are_refused_everywhere(
    http: httpx.Client, path: str, body: str, param: str
) -> None:
    error = _error(_raw(http, path, body))
    assert error["param"] == param
    assert error["code"] == "invalid_value"


def test_integer_past_64_bits_is_refused_on_a_run(http: httpx.Client) -> None:
    thread, assistant = _thread(http), _assistant(http)
    body = f'{{"assistant_id": "{assistant}", "max_completion_tokens": 18446744073709551616}}'
    error = _error(_raw(http, f"/threads/{thread}/runs", body))
    assert error["param"] == "max_completion_tokens"
    assert http.get(f"/threads/{thread}/runs").json()["data"] == []


def test_a_64_bit_integer_is_fine(http: httpx.Client) -> None:
    body = (
        '{"model": "m", "tools": [{"type": "function", "function": {"name": "f", '
        '"parameters": {"maximum": 9223372036854775807, "minimum": -9223372036854775808}}}]}'
    )
    response = _raw(http, "/assistants", body)
    assert response.status_code == 200, response.text
    parameters = response.json()["tools"][0]["function"]["parameters"]
    assert parameters == {"maximum": 2**63 - 1, "minimum": -(2**63)}


def test_lone_surrogate_is_refused(http: httpx.Client) -> None:
    error = _error(_raw(http, "/assistants", '{"model": "m", "name": "\\ud800"}'))
    assert error["param"] == "name"


# --- unknown parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/assistants", {"model": "m", "no_such_field": 1}, "no_such_field"),
        (
            "/assistants",
            {"model": "m", "tools": [{"type": "code_interpreter", "foo": 1}]},
            "tools[0].foo",
        ),
        (
            "/assistants",
            {"model": "m", "tools": [{"type": "function", "function": {"name": "f", "x": 1}}]},
            "tools[0].function.x",
        ),
        (
            "/assistants",
            {
                "model": "m",
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "s", "schema_": {}},
                },
            },
            "response_format.json_schema.schema_",
        ),
        ("/threads", {"messages": [{"role": "user", "content": "hi", "x": 1}]}, "messages[0].x"),
        (
            "/threads",
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "t", "y": 2}]}]},
            "messages[0].content[0].y",
        ),
        (
            "/threads",
            {"tool_resources": {"code_interpreter": {"ids": []}}},
            "tool_resources.code_interpreter.ids",
        ),
        ("/vector_stores", {"name": "s", "colour": "red"}, "colour"),
    ],
)
def test_unknown_parameter(http: httpx.Client, path: str, body: dict[str, Any], param: str) -> None:
    error = _error(http.post(path, json=body))
    assert error["code"] == "unknown_parameter"
    assert error["param"] == param
    assert error["message"] == f"Unknown parameter: '{param}'."


def test_unknown_parameter_on_run_and_search(http: httpx.Client) -> None:
    thread, assistant, store = _thread(http), _assistant(http), _store(http)
    run = http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "nope": True})
    assert _error(run)["param"] == "nope"
    search = http.post(f"/vector_stores/{store}/search", json={"query": "q", "k": 3})
    assert _error(search)["code"] == "unknown_parameter"


# --- wrong types are not coerced -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "temperature": "0.5"}, "temperature"),
        ({"model": "m", "top_p": True}, "top_p"),
        (
            {
                "model": "m",
                "tools": [{"type": "function", "function": {"name": "f", "strict": "yes"}}],
            },
            "tools[0].function.strict",
        ),
        (
            {
                "model": "m",
                "tools": [{"type": "file_search", "file_search": {"max_num_results": "3"}}],
            },
            "tools[0].file_search.max_num_results",
        ),
        ({"model": "m", "metadata": {"a": 1}}, "metadata.a"),
    ],
)
def test_wrong_types_are_invalid_type(http: httpx.Client, body: dict[str, Any], param: str) -> None:
    error = _error(http.post("/assistants", json=body))
    assert error["code"] == "invalid_type"
    assert error["param"] == param


def test_search_max_num_results_as_string(http: httpx.Client) -> None:
    store = _store(http)
    error = _error(
        http.post(f"/vector_stores/{store}/search", json={"query": "q", "max_num_results": "3"})
    )
    assert (error["code"], error["param"]) == ("invalid_type", "max_num_results")


def test_run_stream_as_string(http: httpx.Client) -> None:
    thread, assistant = _thread(http), _assistant(http)
    response = http.post(
        f"/threads/{thread}/runs", json={"assistant_id": assistant, "stream": "true"}
    )
    assert _error(response)["code"] == "invalid_type"


# --- filters and chunking strategies (pydantic unions) ---------------------------------------


@pytest.mark.parametrize(
    ("filters", "param"),
    [
        ({"type": ["eq"]}, "filters.type"),
        (
            {"type": "and", "filters": [{"type": ["eq"], "key": "a", "value": 1}]},
            "filters.filters[0].type",
        ),
        ({"type": "eq", "key": "a", "value": {"x": 1}}, "filters.value"),
        (
            {"type": "or", "filters": [{"type": "in", "key": "a", "value": "x"}]},
            "filters.filters[0].value",
        ),
    ],
)
def test_bad_filters_are_400(http: httpx.Client, filters: dict[str, Any], param: str) -> None:
    store = _store(http)
    response = http.post(f"/vector_stores/{store}/search", json={"query": "q", "filters": filters})
    assert _error(response)["param"] == param


@pytest.mark.parametrize(
    ("strategy", "param"),
    [
        ({"type": ["static"]}, "chunking_strategy.type"),
        ({"type": "static"}, "chunking_strategy.static"),
        (
            {
                "type": "static",
                "static": {"max_chunk_size_tokens": "800", "chunk_overlap_tokens": 0},
            },
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        (
            {"type": "static", "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}},
            "chunking_strategy.static.max_chunk_size_tokens",
        ),
        (
            {
                "type": "static",
                "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 401},
            },
            "chunking_strategy.static.chunk_overlap_tokens",
        ),
        ({"type": "auto", "static": {}}, "chunking_strategy.static"),
    ],
)
def test_bad_chunking_strategy_is_400(
    http: httpx.Client, strategy: dict[str, Any], param: str
) -> None:
    store, file_id = _store(http), _file(http)
    response = http.post(
        f"/vector_stores/{store}/files", json={"file_id": file_id, "chunking_strategy": strategy}
    )
    assert _error(response)["param"] == param


# --- exact params, expiry anchors, URLs and names ---------------------------------------------


def test_param_names_the_exact_file(http: httpx.Client) -> None:
    store, good = _store(http), _file(http)
    batch = http.post(
        f"/vector_stores/{store}/file_batches",
        json={"files": [{"file_id": good}, {"file_id": "file-nope"}]},
    )
    assert _error(batch)["param"] == "files[1].file_id"
    ids = http.post(f"/vector_stores/{store}/file_batches", json={"file_ids": [good, "file-x"]})
    assert _error(ids)["param"] == "file_ids[1]"
    image = http.post(
        f"/threads/{_thread(http)}/messages",
        json={
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_file", "image_file": {"file_id": "file-nope"}},
            ],
        },
    )
    assert _error(image)["param"] == "content[1].image_file.file_id"
    resources = http.post(
        "/assistants",
        json={"model": "m", "tool_resources": {"code_interpreter": {"file_ids": [good, "f-x"]}}},
    )
    assert _error(resources)["param"] == "tool_resources.code_interpreter.file_ids[1]"
    search = http.post(
        f"/vector_stores/{store}/search",
        json={"query": "q", "filters": {"type": "eq", "key": "k", "value": None}},
    )
    assert _error(search)["param"] == "filters.value"


def test_vector_store_expires_after_needs_its_anchor(http: httpx.Client) -> None:
    error = _error(http.post("/vector_stores", json={"expires_after": {"days": 7}}))
    assert (error["param"], error["code"]) == (
        "expires_after.anchor",
        "missing_required_parameter",
    )
    store = _store(http)
    error = _error(http.post(f"/vector_stores/{store}", json={"expires_after": {"days": 7}}))
    assert error["param"] == "expires_after.anchor"
    ok = http.post(
        "/vector_stores", json={"expires_after": {"anchor": "last_active_at", "days": 7}}
    )
    assert ok.status_code == 200 and ok.json()["expires_after"]["anchor"] == "last_active_at"


@pytest.mark.parametrize("url", ["not a url", "ftp://example.com/a.png", "http://", "/a.png", ""])
def test_image_url_must_be_a_url(http: httpx.Client, url: str) -> None:
    content = [{"type": "image_url", "image_url": {"url": url}}]
    response = http.post(
        f"/threads/{_thread(http)}/messages", json={"role": "user", "content": content}
    )
    assert _error(response)["param"] == "content[0].image_url.url"


def test_image_urls_that_are_urls(http: httpx.Client) -> None:
    for url in ["https://example.com/cat.png", "data:image/png;base64,iVBORw0KGgo="]:
        content = [{"type": "image_url", "image_url": {"url": url}}]
        response = http.post(
            f"/threads/{_thread(http)}/messages", json={"role": "user", "content": content}
        )
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("name", ["has space", "a" * 65, "ünï", ""])
def test_json_schema_name_follows_the_function_name_pattern(http: httpx.Client, name: str) -> None:
    body = {
        "model": "m",
        "response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": {}}},
    }
    assert (
        _error(http.post("/assistants", json=body))["param"] == "response_format.json_schema.name"
    )


# --- found by the Schemathesis stage (tests/fuzz) --------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/assistants", {"model": "m", "tools": None}, "tools"),
        ("/threads", {"messages": None}, "messages"),
        ("/vector_stores", {"name": None}, "name"),
        ("/vector_stores", {"chunking_strategy": None, "file_ids": []}, "chunking_strategy"),
        (
            "/assistants",
            {
                "model": "m",
                "tools": [{"type": "function", "function": {"name": "f", "description": None}}],
            },
            "tools[0].function.description",
        ),
    ],
)
def test_null_where_the_spec_allows_none(
    http: httpx.Client, path: str, body: dict[str, Any], param: str
) -> None:
    error = _error(http.post(path, json=body))
    assert (error["param"], error["code"]) == (param, "invalid_type")


def test_null_where_the_spec_allows_it(http: httpx.Client) -> None:
    thread, assistant = _thread(http), _assistant(http)
    body = {
        "assistant_id": assistant,
        "temperature": None,
        "top_p": None,
        "tools": None,
        "truncation_strategy": None,
        "tool_choice": None,
        "response_format": None,
    }
    response = http.post(f"/threads/{thread}/runs", json=body)
    assert response.status_code == 200, response.text


def test_required_body_must_be_sent(http: httpx.Client) -> None:
    assistant = _assistant(http)
    assert _error(http.post(f"/assistants/{assistant}"))["code"] == "invalid_type"
    assert http.post("/threads").status_code == 200  # the spec makes this body optional


def test_file_search_resources_need_stores(http: httpx.Client) -> None:
    body = {"model": "m", "tool_resources": {"file_search": {}}}
    error = _error(http.post("/assistants", json=body))
    assert error["param"] == "tool_resources.file_search"
    helper = {"vector_store_ids": [], "vector_stores": [{"chunking_strategy": None}]}
    response = http.post("/threads", json={"tool_resources": {"file_search": helper}})
    assert (
        _error(response)["param"] == "tool_resources.file_search.vector_stores[0].chunking_strategy"
    )


@pytest.mark.parametrize(
    "attributes", [{"k" * 65: "v"}, {"k": "v" * 513}, {f"k{i}": i for i in range(17)}]
)
def test_attribute_sizes(http: httpx.Client, attributes: dict[str, Any]) -> None:
    store, file_id = _store(http), _file(http)
    response = http.post(
        f"/vector_stores/{store}/files", json={"file_id": file_id, "attributes": attributes}
    )
    assert _error(response)["param"].startswith("attributes")
