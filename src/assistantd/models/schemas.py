"""Model objects and lists, as OpenAI's spec has them (Model, ListModelsResponse)."""

from __future__ import annotations

from typing import Literal

from assistantd.schemas import Schema


class Model(Schema):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "assistantd"


class ModelList(Schema):
    object: Literal["list"] = "list"
    data: list[Model]
