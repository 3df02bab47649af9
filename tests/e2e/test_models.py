"""GET /v1/models and /v1/models/{id}: programs call `models.list()` as a health check or a
model picker. The upstream's list is relayed; without one, the models the server knows of."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.conftest import make_settings, sdk
from tests.fakes.upstream import FakeUpstream
from tests.support.server import run_server


def test_models_are_the_upstreams(client: openai.OpenAI, fake: FakeUpstream) -> None:
    models = list(client.models.list())
    assert [model.id for model in models] == [fake.model]
    assert models[0].object == "model" and models[0].owned_by == "fake"
    got = client.models.retrieve(fake.model)
    assert got.id == fake.model and got.object == "model"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")
    assert caught.value.code == "model_not_found"


def test_models_without_an_upstream_list(tmp_path: Path) -> None:
    """The upstream is unreachable: the project's assistants' models are listed."""
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'models.db'}",
        context_windows={"my-local-model": 8192},
    )
    with run_server(settings) as running, sdk(running) as client:
        client.beta.assistants.create(model="llama-3.1-8b")
        ids = [model.id for model in client.models.list()]
        assert ids == ["my-local-model", "llama-3.1-8b"]
        assert client.models.retrieve("llama-3.1-8b").id == "llama-3.1-8b"
