"""Signatures as payment providers send them: a vector computed with openssl, and a verifier
that refuses tampering, stale timestamps and the wrong secret."""

from __future__ import annotations

from webhooks.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign, verify

SECRET = "whsec_test_0123456789"
BODY = b'{"event_id":"e1"}'
# printf '%s' '1700000000.{"event_id":"e1"}' | openssl dgst -sha256 -hmac 'whsec_test_0123456789'
OPENSSL = "7cd52f7f048ad958cdb2ed6c1f5969de0707c5ac176c324f19c0dce913ba6c22"


def test_the_header_matches_an_independent_hmac() -> None:
    headers = sign(SECRET, BODY, event_id="e1", now=1_700_000_000.7)
    assert headers[SIGNATURE_HEADER] == f"t=1700000000,v1={OPENSSL}"
    assert headers[IDEMPOTENCY_HEADER] == "e1"


def test_a_receiver_accepts_the_genuine_request_only() -> None:
    header = sign(SECRET, BODY, event_id="e1", now=1_700_000_000)[SIGNATURE_HEADER]
    assert verify(SECRET, header, BODY, now=1_700_000_100)
    assert not verify(SECRET, header, BODY + b" ", now=1_700_000_100)  # body changed
    assert not verify("another-secret-000000", header, BODY, now=1_700_000_100)
    assert not verify(SECRET, header, BODY, now=1_700_000_000 + 301)  # replayed too late
    forged_time = header.replace("t=1700000000", "t=1700000200")
    assert not verify(SECRET, forged_time, BODY, now=1_700_000_200)
    assert not verify(SECRET, "v1=" + OPENSSL, BODY, now=1_700_000_000)  # no timestamp
