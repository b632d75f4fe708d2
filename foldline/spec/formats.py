"""How values are written and read back: UTC timestamps, JSON numbers, S3's "not found".

>>> number(3), number(2.5), number(True), number("7")
(3.0, 2.5, None, None)
>>> is_not_found_code("NoSuchKey"), is_not_found_code("AccessDenied")
(True, False)
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

#: the error codes S3 answers for a key or bucket that is not there (GetObject says
#: NoSuchKey, HeadObject a bare 404, some SDK paths NotFound; a version that is gone,
#: NoSuchVersion)
S3_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchVersion"})


def utc_now() -> str:
    """Now, as every record foldline writes spells a time: ISO 8601, UTC, to the second."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def number(value: Any) -> float | None:
    """A JSON number as a float; anything else (a bool, a string, null) as None."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def is_not_found_code(code: Any) -> bool:
    return str(code) in S3_NOT_FOUND_CODES


def is_not_found(err: BaseException) -> bool:
    """Whether a botocore ClientError (or anything with its ``response``) says "not found"."""
    response = getattr(err, "response", None) or {}
    return is_not_found_code(response.get("Error", {}).get("Code", ""))
