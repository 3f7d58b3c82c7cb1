"""One request straight to an ASGI app, in-process (no HTTP, no load generator): what the
in-process benches time."""

from __future__ import annotations

from typing import Any


async def call(
    app: Any, method: str, path: str, query: bytes = b"", body: bytes = b"", out: Any = None
) -> int:
    """One request straight to the ASGI app; its status (and its body into `out`, a list)."""
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http",
        "root_path": "", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
        "method": method, "path": path, "raw_path": path.encode(), "query_string": query,
        "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
        elif out is not None and message["type"] == "http.response.body":
            out.append(message.get("body", b""))

    await app(scope, receive, send)
    return statuses[0]
