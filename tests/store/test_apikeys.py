"""API key records in a real Redis: hashed at rest, scopes, revocation."""

from __future__ import annotations

import hashlib

import pytest

from store.apikeys import ApiKeyError, create_key, key_id, list_keys, revoke_key
from store.keys import Keys

KEYS = Keys()


def test_secret_is_never_stored_only_its_sha256(redis_client):
    record, secret = create_key(redis_client, KEYS, name="web", scopes=["personalize:read"])
    stored = redis_client.hget(KEYS.global_("apikeys"), record.id)
    assert secret.encode() not in stored
    assert secret.split("_", 2)[2].encode() not in stored
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in stored
    assert key_id(secret) == record.id and secret.startswith(f"tp_{record.id}_")


def test_scopes_and_admin(redis_client):
    record, secret = create_key(redis_client, KEYS, name="ops", scopes=["events:write"])
    assert record.allows("events:write") and not record.allows("segments:read")
    assert record.matches(secret) and not record.matches(secret[:-1] + "x")
    admin, _ = create_key(redis_client, KEYS, name="root", scopes=["admin"])
    assert admin.allows("segments:read") and admin.allows("experiments:admin")


@pytest.mark.parametrize(
    ("name", "scopes"), [("", ["admin"]), ("x" * 65, ["admin"]), ("a", ["root"]), ("a", [" "])]
)
def test_bad_name_or_scope_is_refused(redis_client, name, scopes):
    with pytest.raises(ApiKeyError):
        create_key(redis_client, KEYS, name=name, scopes=scopes)
    assert list_keys(redis_client, KEYS) == []


def test_revoked_key_stays_listed_and_no_longer_allows(redis_client):
    record, _ = create_key(redis_client, KEYS, name="app", scopes=["personalize:read"])
    revoked = revoke_key(redis_client, KEYS, record.id)
    assert not revoked.active and not revoked.allows("personalize:read")
    [listed] = list_keys(redis_client, KEYS)
    assert listed.id == record.id and listed.revoked_at == revoked.revoked_at
    with pytest.raises(ApiKeyError):
        revoke_key(redis_client, KEYS, "00000000")


def test_key_id_rejects_foreign_shapes():
    assert key_id("Bearer abc") is None
    assert key_id("tp_zzzzzzzz_" + "a" * 40) is None
    assert key_id("tp_0123abcd_" + "a" * 43) == "0123abcd"
