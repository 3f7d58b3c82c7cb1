"""The baseline for `bench/api_load.py`: FastAPI returning a pre-serialised 10-item body.

Same framework, same server, same path shape (a path parameter is parsed), no work: what
"serving from memory" costs, so the real endpoint's figure has something to be compared to.
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI
from starlette.responses import Response

ITEMS = [
    {"item_id": f"SKU-{i:06d}", "kind": "product", "score": 0.9 - i / 100, "title": f"Item {i}",
     "category": "Electronics", "price": 19.99 + i, "reason": "popular with Champions"}
    for i in range(10)
]  # fmt: skip
BODY = orjson.dumps(
    {"customer_id": "c1", "recommendation_id": "r_0123456789abcdef", "model_version": "v",
     "strategy": "personal", "degraded": False, "items": ITEMS}
)  # fmt: skip


def create_bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/customers/{customer_id}/recommendations")
    async def bare(customer_id: str, k: int = 10) -> Response:
        return Response(BODY, media_type="application/json")

    return app
