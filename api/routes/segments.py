"""Segments for marketing automation (scope `segments:read`).

- `GET /v1/segments` — the live catalogue: name, family, description or rule, size, version
- `GET /v1/segments/{name}` — one segment plus its size over past runs
- `GET /v1/segments/{name}/members?cursor=&limit=` — pages pinned to one version by the
  cursor; `format=csv|ndjson` streams the whole list chunk by chunk
- `GET /v1/segments/{name}/changes?since_version=` — who entered and who left
- `GET /v1/customers/{customer_id}/segments` — one customer's segments
A cursor whose version has expired answers 410: the client restarts without a cursor.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query
from starlette.responses import StreamingResponse

from api.deps import StateDep
from api.fields import CustomerIdPath
from api.problems import Gone, Invalid, NotFound, Unavailable
from api.state import ServingState
from contracts.requests import PAGE_MAX
from store.segments import SegmentReader

router = APIRouter(prefix="/v1", tags=["segments"])
Name = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")]


def _reader(state: ServingState) -> SegmentReader:
    if state.client is None:
        raise Unavailable("Redis is not connected")
    return SegmentReader(state.client, state.keys)


async def _live(reader: SegmentReader) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    version = await reader.live_version()
    if version is None:
        raise NotFound("no segments published yet: run `touchpoint segment`")
    meta, catalogue = await reader.meta(version), await reader.catalogue(version)
    if meta is None or catalogue is None:
        raise Unavailable(f"segments version {version} is live but its data is gone")
    return version, meta, catalogue


def _entry(row: dict[str, Any], version: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {**row, "version": version, "built_at": meta.get("built_at"),
            "as_of": meta.get("as_of")}  # fmt: skip


def _find(catalogue: list[dict[str, Any]], name: str, version: str) -> dict[str, Any]:
    for row in catalogue:
        if row["name"] == name:
            return row
    raise NotFound(f"no segment {name!r} in segments version {version}")


@router.get("/segments")
async def list_segments(state: StateDep) -> dict[str, Any]:
    version, meta, catalogue = await _live(_reader(state))
    return {"version": version, "built_at": meta.get("built_at"),
            "segments": [_entry(row, version, meta) for row in catalogue]}  # fmt: skip


@router.get("/segments/{name}")
async def get_segment(name: Name, state: StateDep) -> dict[str, Any]:
    reader = _reader(state)
    version, meta, catalogue = await _live(reader)
    row = _find(catalogue, name, version)
    history = [
        {"version": run["version"], "built_at": run.get("built_at"), "size": run["sizes"][name]}
        for run in await reader.size_history()
        if name in run.get("sizes", {})
    ]
    return {**_entry(row, version, meta), "history": history}


def encode_cursor(version: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{version}|{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, offset = text.rsplit("|", 1)
        if not version or int(offset) < 0:
            raise ValueError(cursor)
        return version, int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid("cursor is not one this API issued", pointer="cursor") from exc


async def _pinned(reader: SegmentReader, version: str) -> list[dict[str, Any]]:
    catalogue = await reader.catalogue(version)
    if catalogue is None:
        raise Gone(f"segments version {version} has expired; start again without a cursor")
    return catalogue


@router.get("/segments/{name}/members", response_model=None)
async def segment_members(
    name: Name,
    state: StateDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 1000,
    format: Annotated[Literal["json", "csv", "ndjson"], Query()] = "json",
) -> dict[str, Any] | StreamingResponse:
    reader = _reader(state)
    if cursor is not None:
        version, offset = decode_cursor(cursor)
        catalogue = await _pinned(reader, version)
    else:
        version, _meta, catalogue = await _live(reader)
        offset = 0
    row = _find(catalogue, name, version)
    size = int(row["size"])
    if format != "json":
        return _export(reader, version, name, size, format)
    ids = await reader.page(version, name, offset, limit) if offset < size else []
    if ids is None:
        raise Gone(f"segments version {version} has expired; start again without a cursor")
    end = offset + len(ids)
    return {"segment": name, "version": version, "size": size, "members": ids,
            "next_cursor": encode_cursor(version, end) if end < size else None}  # fmt: skip


def _export(
    reader: SegmentReader, version: str, name: str, size: int, fmt: str
) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        if fmt == "csv":
            yield b"customer_id\r\n"
        async for chunk in reader.stream(version, name, size):
            if fmt == "csv":
                yield "".join(f"{_csv_field(i)}\r\n" for i in chunk).encode()
            else:
                yield b"".join(orjson.dumps({"customer_id": i}) + b"\n" for i in chunk)

    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    headers = {"X-Segment-Version": version, "X-Segment-Size": str(size),
               "Content-Disposition": f'attachment; filename="{name}.{fmt}"'}  # fmt: skip
    return StreamingResponse(body(), media_type=media, headers=headers)


def _csv_field(value: str) -> str:
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


@router.get("/segments/{name}/changes")
async def segment_changes(
    name: Name,
    state: StateDep,
    since_version: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    reader = _reader(state)
    version, meta, catalogue = await _live(reader)
    size = int(_find(catalogue, name, version)["size"])
    previous = meta.get("previous")
    since = since_version or previous
    if since is None:
        raise NotFound("no earlier segments version to compare with")
    if since == version:
        entered: list[str] = []
        exited: list[str] = []
    elif since == previous and (stored := await reader.delta(version, name)) is not None:
        entered, exited = stored
    else:
        old = await _pinned(reader, since)
        old_size = next((int(r["size"]) for r in old if r["name"] == name), 0)
        before = set(await reader.all_members(since, name, old_size))
        after = set(await reader.all_members(version, name, size))
        entered, exited = sorted(after - before), sorted(before - after)
    return {"segment": name, "version": version, "since_version": since,
            "entered": entered, "exited": exited,
            "entered_count": len(entered), "exited_count": len(exited)}  # fmt: skip


@router.get("/customers/{customer_id}/segments")
async def customer_segments(customer_id: CustomerIdPath, state: StateDep) -> dict[str, Any]:
    reader = _reader(state)
    version, _meta, catalogue = await _live(reader)
    names = await reader.customer_segments(version, customer_id)
    if names is None:
        raise NotFound(f"customer {customer_id!r} is not in segments version {version}")
    info = {row["name"]: row for row in catalogue}
    return {"customer_id": customer_id, "version": version,
            "segments": [{"name": n, "family": info.get(n, {}).get("family"),
                          "title": info.get(n, {}).get("title")} for n in names]}  # fmt: skip
