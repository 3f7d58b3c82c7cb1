"""Signatures the way payment providers send them, so receivers can reuse their verifiers.

Header `Touchpoint-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
and `Idempotency-Key: <event_id>` (the same for every retry and replay of one event: the
receiver drops a repeat). The timestamp is signed with the body, so a captured request
cannot be replayed later than the receiver's tolerance (`verify(..., tolerance=300)`).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Touchpoint-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, event_id: str, now: float | None = None) -> dict[str, str]:
    """The headers of one delivery attempt of `body`."""
    t = int(time.time() if now is None else now)
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: f"t={t},v1={signature(secret, t, body)}",
        IDEMPOTENCY_HEADER: event_id,
    }


def verify(
    secret: str, header: str, body: bytes, *, tolerance: float = 300, now: float | None = None
) -> bool:
    """What a receiver does: the header parses, the timestamp is recent, one `v1` matches."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit():
        return False
    t = int(stamps[0])
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = signature(secret, t, body)
    return any(k.strip() == "v1" and hmac.compare_digest(v.strip(), expected) for k, v in parts)
