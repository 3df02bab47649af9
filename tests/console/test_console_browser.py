"""The console in a real headless Chromium: sign-in, an assistant made through the form, a
streamed chat whose function call is answered by hand, a cancelled run, the run timeline, an
upload into a vector store and a search, usage, and clear messages for bad keys and missing
objects. Screenshots of the main pages (light and dark) go to test-artifacts/console/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from playwright.sync_api import expect

from tests.conftest import KEY_A, KEY_B
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.server import RunningServer

TEA = b"Matcha is a powdered green tea from Japan, whisked with hot water in the tea ceremony."
ANSWER = "It is sunny in Paris today, 21 degrees and a light breeze."


class Console:
    """A signed-in page plus the checks every page must pass: no script errors, and no
    request leaving this server."""

    def __init__(self, page: Any, server: RunningServer, artifacts: Path, scheme: str) -> None:
        self.page, self.server, self.artifacts, self.scheme = page, server, artifacts, scheme
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "console",
            lambda msg: self.errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("request", self._request)
        page.set_default_timeout(20_000)

    def _request(self, request: Any) -> None:
        if not request.url.startswith((self.server.url, "blob:", "data:")):
            self.foreign.append(request.url)

    def go(self, hash_: str) -> None:
        self.page.goto(f"{self.server.url}/console/{hash_}")

    def sign_in(self, key: str = KEY_A) -> None:
        self.go("#/assistants")
        self.page.fill("#key-input", key)
        self.page.click("#sign-in button[type=submit]")

    def shot(self, name: str) -> None:
        self.page.screenshot(path=self.artifacts / f"{name}-{self.scheme}.png", full_page=True)


@pytest.fixture
def console(
    browser: Any, console_server: RunningServer, artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[Console]:
    scheme = getattr(request, "param", "light")
    context = browser.new_context(
        color_scheme=scheme, viewport={"width": 1280, "height": 860}, accept_downloads=True
    )
    wrapper = Console(context.new_page(), console_server, artifacts, scheme)
    yield wrapper
    context.close()
    # 401/404 answers the tests provoke are logged by Chromium as failed resources: expected.
    unexpected = [e for e in wrapper.errors if "Failed to load resource" not in e]
    assert not unexpected, unexpected
    assert not wrapper.foreign, f"requests outside the server: {wrapper.foreign}"


@pytest.fixture
def sdk(console_server: RunningServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=console_server.api, api_key=KEY_A, max_retries=0) as client:
        yield client


def test_sign_in_rejects_a_bad_key_then_shows_the_project(
    console: Console, console_server: RunningServer, sdk: openai.OpenAI
) -> None:
    mine = sdk.beta.assistants.create(model="gpt-4o", name="Mine, in alpha")
    with openai.OpenAI(base_url=console_server.api, api_key=KEY_B, max_retries=0) as other:
        theirs = other.beta.assistants.create(model="gpt-4o", name="Theirs, in beta")
    page = console.page
    console.sign_in("sk-not-a-key")
    alert = page.locator("#sign-in [role=alert]")
    alert.wait_for()
    assert not page.is_visible("#nav")  # no sections before signing in
    assert "Sign-in failed" in alert.inner_text() and "Incorrect API key" in alert.inner_text()
    console.shot("sign-in-error")
    console.sign_in(KEY_A)
    page.wait_for_selector("text=Mine, in alpha")
    assert page.locator("text=Theirs, in beta").count() == 0  # another project's: not shown
    # The key stays in the tab's session storage only.
    assert page.evaluate("sessionStorage.getItem('assistantd.key')") == KEY_A
    assert page.evaluate("localStorage.getItem('assistantd.key')") is None
    # Another project's id answers as missing: a clear message, not a blank page.
    console.go(f"#/assistants/{theirs.id}")
    page.wait_for_selector("[role=alert]")
    assert "Not found" in page.locator("[role=alert]").inner_text()
    sdk.beta.assistants.delete(mine.id)
    console.go(f"#/assistants/{mine.id}")
    page.wait_for_selector("[role=alert]:has-text('No assistant found with id')")


def test_assistant_form_chat_with_a_function_call_answered_by_hand_and_the_timeline(
    console: Console, fake: FakeUpstream, sdk: openai.OpenAI
) -> None:
    page = console.page
    console.sign_in()
    page.click("text=New assistant")
    page.fill("input[name=name]", "Weather helper")
    page.fill("input[name=model]", "gpt-4o")
    page.fill("#instructions", "Answer about the weather.")
    page.fill("input[name=temperature]", "0.5")
    function = {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    page.fill("textarea[name=functions]", json.dumps([function]))
    page.check("input[name=file_search]")
    page.click("#assistant-form button[type=submit]")
    page.wait_for_selector("h1:has-text('Weather helper')")
    assistant_id = page.url.rsplit("/", 1)[1]
    stored = sdk.beta.assistants.retrieve(assistant_id)
    assert stored.instructions == "Answer about the weather." and stored.temperature == 0.5
    assert sorted(t.type for t in stored.tools) == ["file_search", "function"]
    console.shot("assistant")
    # Edit: the form saves through POST /assistants/{id}.
    page.fill("#instructions", "Answer about the weather, briefly.")
    page.click("#assistant-form button[type=submit]")
    page.wait_for_selector("#toast.on:has-text('Assistant saved')")
    assert sdk.beta.assistants.retrieve(assistant_id).instructions.endswith("briefly.")  # type: ignore[union-attr]

    # The playground: the model calls get_weather, we answer by hand, the answer streams.
    fake.script(
        Turn(tool_calls=[Call("get_weather", '{"city": "Paris"}')]),
        Turn(text=ANSWER, itl_s=0.12),
    )
    page.click("text=Try in playground")
    page.fill("#pg-input", "What is the weather in Paris?")
    page.press("#pg-input", "Enter")
    form = page.locator("#pg-outputs")
    form.wait_for()
    assert "get_weather" in form.inner_text() and '"city": "Paris"' in form.inner_text()
    page.wait_for_selector("#pg-status [data-status=requires_action]")
    console.shot("playground-requires-action")
    page.fill("#pg-outputs textarea", "sunny, 21 C")
    page.click("#pg-outputs button[type=submit]")
    # Token by token: the bubble is seen while it is still being written.
    streaming = page.locator(".bubble.streaming .text")
    streaming.wait_for()
    partial = streaming.inner_text()
    assert ANSWER.startswith(partial) and len(partial) < len(ANSWER)
    page.wait_for_selector("#pg-status [data-status=completed]")
    assert page.locator(f".bubble.assistant:has-text('{ANSWER}')").count() == 1
    assert not page.is_visible("#pg-cancel")  # nothing left to cancel
    tool_message = fake.requests[-1]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == "sunny, 21 C"
    console.shot("playground")

    # Cancel a run while it streams.
    fake.script(Turn(text=" ".join(["slowly"] * 200), itl_s=0.2))
    page.fill("#pg-input", "Tell me a long story.")
    page.click("#pg-send")
    page.locator(".bubble.streaming").wait_for()
    page.click("#pg-cancel")
    page.wait_for_selector("#pg-status [data-status=cancelled]")
    thread_id = page.locator("#pg-thread a").inner_text()
    runs = sdk.beta.threads.runs.list(thread_id).data
    assert [r.status for r in runs] == ["cancelled", "completed"]

    # The thread page: the chat and each run's timeline with the function call and output.
    page.click("nav >> text=Threads")
    page.click(f"a:has-text('{thread_id}')")
    run_card = page.locator(f"section.run[data-run-id='{runs[1].id}']")
    run_card.wait_for()
    text = run_card.inner_text()
    assert "Function get_weather" in text and "→ sunny, 21 C" in text
    usage = runs[1].usage
    assert usage is not None and f"= {usage.total_tokens}" in text
    assert run_card.locator(".step").count() == 2  # the tool call, then the message
    assert page.locator(f"section.run[data-run-id='{runs[0].id}'] [data-status=cancelled]").count()
    assert page.locator(f"#chat .bubble.assistant:has-text('{ANSWER}')").count() == 1
    console.shot("thread")


def test_upload_into_a_vector_store_then_search(console: Console, sdk: openai.OpenAI) -> None:
    page = console.page
    console.sign_in()
    page.click("nav >> text=Vector stores")
    page.fill("#store-form input[name=name]", "Tea notes")
    page.click("#store-form button[type=submit]")
    page.wait_for_selector("h1:has-text('Tea notes')")
    page.set_input_files(
        "#upload-input", files=[{"name": "tea.txt", "mimeType": "text/plain", "buffer": TEA}]
    )
    page.click("#upload-form button[type=submit]")
    # Counts and statuses follow ingestion without a reload.
    page.wait_for_selector("#store-counts:has-text('1 completed')")
    assert page.locator("#store-files [data-status=completed]").count() == 1
    assert page.locator("#store-files td:has-text('tea.txt')").count() == 1
    page.fill("#search-query", "What is matcha?")
    page.click("#search-form button[type=submit]")
    result = page.locator("#search-results .result").first
    result.wait_for()
    assert "tea.txt" in result.inner_text() and "powdered green tea" in result.inner_text()
    assert re.search(r"score \d\.\d{3}", result.inner_text())
    console.shot("vector-store")
    page.click("nav >> text=Files")
    page.wait_for_selector("#files a:has-text('tea.txt')")
    with page.expect_download() as download:
        page.click("#files a:has-text('tea.txt')")
    assert Path(download.value.path()).read_bytes() == TEA
    console.shot("files")


@pytest.mark.parametrize("console", ["light", "dark"], indirect=True)
def test_main_pages_render_in_light_and_dark(
    console: Console, sdk: openai.OpenAI, fake: FakeUpstream
) -> None:
    """Screenshots of every page with content in it, and the usage chart's figures."""
    assistant = sdk.beta.assistants.create(model="gpt-4o", name=f"Usage {console.scheme}")
    fake.script(Turn(text="Counted."))
    run = sdk.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "count me"}]},
        poll_interval_ms=50,
    )
    assert run.status == "completed" and run.usage is not None
    page = console.page
    console.sign_in()
    page.wait_for_selector(f"text=Usage {console.scheme}")
    console.shot("assistants")
    page.click("nav >> text=Usage")
    page.wait_for_selector("#usage-chart")
    total = int(page.locator("#usage-total").inner_text().replace(",", ""))
    assert total >= run.usage.total_tokens
    assert page.locator(f"td:has-text('Usage {console.scheme}')").count() == 1
    console.shot("usage")
    page.click("nav >> text=Threads")
    page.wait_for_selector(f"a:has-text('{run.thread_id}')")
    console.shot("threads")
    console.go(f"#/threads/{run.thread_id}")
    page.wait_for_selector(f"section.run[data-run-id='{run.id}'] [data-status=completed]")
    console.shot("thread-simple")
    page.set_viewport_size({"width": 390, "height": 800})  # a phone: one column, nav wraps
    console.shot("thread-narrow")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    page.set_viewport_size({"width": 1280, "height": 860})
    page.click("nav >> text=Sign out")
    page.wait_for_selector("#sign-in")
    assert page.evaluate("sessionStorage.getItem('assistantd.key')") is None
    console.shot("sign-in")


def _png(width: int = 24, height: int = 16) -> bytes:
    """A small solid PNG, made by hand (zlib and CRCs), for an image message."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x2f\x6f\xde" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_thread_shows_images_and_citations_by_file_name(
    console: Console, sdk: openai.OpenAI, fake: FakeUpstream
) -> None:
    import io
    import time

    picture = sdk.files.create(file=("chart.png", io.BytesIO(_png())), purpose="vision")
    notes = sdk.files.create(file=("tea.txt", io.BytesIO(TEA)), purpose="assistants")
    assistant = sdk.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [notes.id]}]}},
    )
    store_id = assistant.tool_resources.file_search.vector_store_ids[0]  # type: ignore[union-attr]
    deadline = time.monotonic() + 30
    while sdk.vector_stores.retrieve(store_id).file_counts.in_progress:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    thread = sdk.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture, and what is matcha?"},
                    {"type": "image_file", "image_file": {"file_id": picture.id}},
                ],
            }
        ]
    )
    fake.script(
        Turn(tool_calls=[Call("file_search", json.dumps({"queries": ["matcha"]}))]),
        Turn(text="A blue square. Matcha is powdered green tea 【0:0†tea.txt】."),
    )
    run = sdk.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "completed"
    page = console.page
    console.sign_in()
    page.wait_for_selector("h1:has-text('Assistants')")
    console.go(f"#/threads/{thread.id}")
    image = page.locator("#chat img.figure")
    image.wait_for()
    # The image's bytes arrived (24 px wide). Not `page.wait_for_function("...")`: when its
    # first check fails it polls by evaluating the string in the page, which the console's CSP
    # (script-src 'self', no 'unsafe-eval') refuses, so it failed whenever the image was slow.
    expect(image).to_have_js_property("naturalWidth", 24)
    citation = page.locator("#chat .notes .citation")
    citation.wait_for()
    page.wait_for_selector("#chat .notes .citation:has-text('tea.txt')")
    assert page.locator("#chat .cite").inner_text() == "[1]"
    assert "【" not in page.locator("#chat .bubble.assistant").inner_text()
    # The run's timeline shows the search with its scored passage.
    search = page.locator(f"section.run[data-run-id='{run.id}'] .tool:has-text('File search')")
    assert "tea.txt" in search.inner_text() and "powdered green tea" in search.inner_text()
    assert re.search(r"score \d\.\d{3}", search.inner_text())
    console.shot("thread-citations")
