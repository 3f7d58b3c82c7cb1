"""The intake routes' JSON bodies: one record or a batch, read with orjson; the 202 answer.

`POST /v1/events` and `POST /v1/feedback` read their body themselves (one record, or a batch
under one field) and document it with `body_schema`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from api.responses import OrjsonResponse

M = TypeVar("M", bound=BaseModel)
B = TypeVar("B", bound=BaseModel)


def parse_body(raw: bytes) -> Any:
    """JSON via orjson (strict UTF-8: a lone surrogate is bad input, not a 500 later)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": f"invalid JSON: {exc}"}]
        ) from None


def one_or_many(data: Any, single: type[M], batch: type[B], field: str) -> list[M]:
    """`{...one record...}` or `{field: [records]}`; errors keep their JSON pointer."""
    try:
        if isinstance(data, dict) and field in data:
            return list(getattr(batch.model_validate(data), field))
        return [single.model_validate(data)]
    except ValidationError as exc:
        errors = [
            {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]} for e in exc.errors()
        ]
        raise RequestValidationError(errors) from None


def accepted(ids: list[str], fresh: list[bool], *, erased: int = 0) -> Response:
    """202 with how many records were new and which ids were already known (retries);
    `erased`: records of erased customers, dropped (`api.services.privacy`)."""
    duplicates = [i for i, new in zip(ids, fresh, strict=True) if not new]
    body: dict[str, Any] = {
        "accepted": len(ids) - len(duplicates),
        "duplicates": len(duplicates),
        "duplicate_ids": duplicates,
    }
    if erased:
        body["erased"] = erased
    return OrjsonResponse(body, status_code=202)


def body_schema(single: type[BaseModel], batch: type[BaseModel]) -> dict[str, Any]:
    """The request body for the OpenAPI document (the route reads the body itself)."""
    schema = {"anyOf": [_inline(single.model_json_schema()), _inline(batch.model_json_schema())]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
