from dataclasses import replace
from datetime import timedelta

from oms.auth.service import Principal, TokenCache
from oms.db.base import utcnow

ADA = Principal(user_id=1, email="ada@example.com", role="admin", scopes=frozenset({"orders:read"}))


def test_a_verified_token_is_remembered_for_a_few_seconds_only(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("oms.auth.service.time.monotonic", lambda: now[0])
    cache = TokenCache(ttl_s=10)
    cache.put("hash", ADA)
    assert cache.get("hash") == ADA
    now[0] += 11
    assert cache.get("hash") is None


def test_a_token_past_its_expiry_is_not_served_from_the_cache():
    cache = TokenCache(ttl_s=60)
    cache.put("hash", replace(ADA, expires_at=utcnow() - timedelta(seconds=1)))
    assert cache.get("hash") is None


def test_the_cache_stays_bounded():
    cache = TokenCache(ttl_s=60, max_entries=3)
    for i in range(10):
        cache.put(f"h{i}", ADA)
    assert len(cache._entries) <= 3
    assert cache.get("h9") == ADA
