"""One search per MSA cache key at a time: a lease beside the cache entry.

The MSA cache (:mod:`foldline.steps.msa_cache`) serves a search that has *finished*. Runs of
the same chains that are in flight together (a screening drop with repeated sequences,
two users dropping the same protein) would each find no entry and each search. The lease
makes the first one search and the others wait for its entry:

``msa-cache/<key>/search-lease.json`` holds ``{"holder", "token", "until", "released"}``.

- **claim**: PutObject with ``If-None-Match: *`` (S3 conditional writes): exactly one job
  creates the lease. A job that finds a lease that was released, or whose ``until`` has
  passed (its holder died), takes it over with ``If-Match: <the ETag it read>``, so of
  two jobs taking over the same lease one wins.
- **renew**: the holder pushes ``until`` forward while it searches (``If-Match`` on its own
  last ETag: a holder that lost the lease learns it and stops renewing), so a long search
  keeps its lease and a holder that died loses it within one lease period.
- **release**: after its entry's manifest is written (or after the search failed) the
  holder marks the lease released, and the waiters look again: an entry to copy, or the
  lease to take.

A waiter costs the instance's time while it waits, never a second search; the lease is
only an optimisation: any S3 error reading or writing it means "search", as without it.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from botocore.exceptions import ClientError

from foldline.spec import layout
from foldline.spec.formats import is_not_found

log = logging.getLogger("foldline.steps.msa_lease")

LEASE_NAME = "search-lease.json"
#: how long a lease lives without renewal (seconds); the holder renews every third of it
LEASE_S_ENV = "FOLDLINE_MSA_LEASE_S"
DEFAULT_LEASE_S = 600.0
#: how often a waiting job looks for the entry or the lease again (seconds)
POLL_S_ENV = "FOLDLINE_MSA_LEASE_POLL_S"
DEFAULT_POLL_S = 10.0
_PRECONDITION_CODES = ("PreconditionFailed", "412", "ConditionalRequestConflict")


def lease_key(cache_key: str) -> str:
    return layout.msa_cache_prefix(cache_key) + LEASE_NAME


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _precondition_failed(err: ClientError) -> bool:
    return str(err.response.get("Error", {}).get("Code", "")) in _PRECONDITION_CODES


@dataclass
class Lease:
    """A lease as read (``etag``: the object's, for the next conditional write)."""

    holder: str
    token: str
    until: str
    released: bool = False
    etag: str = ""

    def live(self, now: _dt.datetime | None = None) -> bool:
        """Held by someone searching now: not released and not past ``until``."""
        return not self.released and _dt.datetime.fromisoformat(self.until) > (now or _now())

    def body(self) -> bytes:
        doc = {
            "holder": self.holder,
            "token": self.token,
            "until": self.until,
            "released": self.released,
        }
        return json.dumps(doc).encode()


def read_lease(s3: Any, bucket: str, cache_key: str) -> Lease | None:
    """The lease of ``cache_key`` as S3 holds it now, or None (none yet, or unreadable)."""
    try:
        got = s3.get_object(Bucket=bucket, Key=lease_key(cache_key))
    except ClientError as err:
        if is_not_found(err):
            return None
        raise
    try:
        doc = json.loads(got["Body"].read())
        return Lease(
            holder=str(doc["holder"]),
            token=str(doc["token"]),
            until=str(doc["until"]),
            released=bool(doc.get("released")),
            etag=got["ETag"],
        )
    except (ValueError, KeyError, TypeError):  # a damaged lease is one nobody holds
        return Lease("", "", _now().isoformat(), released=True, etag=got["ETag"])


def _write(s3: Any, bucket: str, cache_key: str, lease: Lease, **condition: str) -> bool:
    """Put ``lease`` under ``condition`` (IfNoneMatch / IfMatch); False where it failed."""
    try:
        put = s3.put_object(
            Bucket=bucket,
            Key=lease_key(cache_key),
            Body=lease.body(),
            ContentType="application/json",
            **condition,
        )
    except ClientError as err:
        if _precondition_failed(err) or is_not_found(err):  # If-Match on a deleted lease
            return False
        raise
    lease.etag = put["ETag"]
    return True


def _until(lease_s: float) -> str:
    return (_now() + _dt.timedelta(seconds=lease_s)).isoformat(timespec="milliseconds")


def claim(s3: Any, bucket: str, cache_key: str, holder: str, lease_s: float) -> Lease | None:
    """Take the right to search for ``cache_key``; None while another job holds it."""
    mine = Lease(holder=holder, token=uuid.uuid4().hex, until=_until(lease_s))
    if _write(s3, bucket, cache_key, mine, IfNoneMatch="*"):
        return mine
    current = read_lease(s3, bucket, cache_key)
    if current is None:  # released and deleted between the two calls: try once more
        return mine if _write(s3, bucket, cache_key, mine, IfNoneMatch="*") else None
    if current.live():
        return None
    return mine if _write(s3, bucket, cache_key, mine, IfMatch=current.etag) else None


def renew(s3: Any, bucket: str, cache_key: str, lease: Lease, lease_s: float) -> bool:
    """Push the lease's end forward; False where it is no longer this holder's."""
    renewed = Lease(lease.holder, lease.token, _until(lease_s))
    if not _write(s3, bucket, cache_key, renewed, IfMatch=lease.etag):
        return False
    lease.until, lease.etag = renewed.until, renewed.etag
    return True


def release(s3: Any, bucket: str, cache_key: str, lease: Lease) -> bool:
    """Mark the lease released (only if still this holder's): the waiters look again."""
    done = Lease(lease.holder, lease.token, lease.until, released=True)
    return _write(s3, bucket, cache_key, done, IfMatch=lease.etag)


class Heartbeat:
    """Renews a held lease every third of its period on a daemon thread until stopped."""

    def __init__(self, renew_once: Callable[[], bool], every_s: float):
        self._renew_once = renew_once
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="msa-lease", daemon=True)
        self.lost = False

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                if not self._renew_once():
                    self.lost = True  # another job took it over: nothing more to renew
                    return
            except Exception as err:  # noqa: BLE001 - a failed renewal only shortens the lease
                log.warning("MSA search lease not renewed: %s: %s", type(err).__name__, err)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
