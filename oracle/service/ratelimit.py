"""Per-address rate limiting for the submission service: one token bucket per signer address.

The key is the address that *signed* the request (recovered from the signature), not the one the request claims:
otherwise anyone could spend a victim's quota by naming the victim's address. Buckets that refilled completely
carry no information and are dropped, so memory stays bounded by the number of recently active addresses.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

__all__ = ["RateLimiter"]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``capacity`` requests in a burst, refilled at ``per_second``; thread-safe.

    ``clock`` is injectable for tests of the arithmetic (the service uses the monotonic clock)."""

    def __init__(
        self, capacity: float, per_second: float, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity < 1 or per_second <= 0:
            raise ValueError(f"rate limit needs capacity >= 1 and a positive refill rate, got {capacity}, {per_second}")
        self.capacity = float(capacity)
        self.per_second = float(per_second)
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        return min(self.capacity, bucket.tokens + (now - bucket.updated) * self.per_second)

    def take(self, key: str) -> float | None:
        """Spend one request of ``key``: None when allowed, else the seconds to wait before the next one."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._forget_full(now)
                bucket = self._buckets[key] = _Bucket(self.capacity, now)
            bucket.tokens, bucket.updated = self._refilled(bucket, now), now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / self.per_second

    def _forget_full(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if self._refilled(b, now) >= self.capacity]:
            del self._buckets[key]
