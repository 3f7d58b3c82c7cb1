"""JSON responses serialised with orjson (numpy scalars and arrays included)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse

OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class OrjsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=OPTIONS)


def background(after: Callable[[], Awaitable[None]] | None) -> BackgroundTask | None:
    """Work to run after the answer is sent, as a response's background task."""
    return None if after is None else BackgroundTask(after)
