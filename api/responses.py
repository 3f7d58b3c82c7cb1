"""JSON responses serialised with orjson (numpy scalars and arrays included)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class OrjsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=OPTIONS)
