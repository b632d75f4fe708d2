"""SageMaker's step cache, locally: a step with ``CacheConfig`` reuses a finished run of itself.

What SageMaker Pipelines does (AWS docs, "Caching pipeline steps" and "Default cache key
attributes by pipeline step type"): for a step whose ``CacheConfig.Enabled`` is true it
looks for the most recent *successful* execution of the same step of the same pipeline
whose cache-key attributes were equal and which ended within ``ExpireAfter``; on a hit the
step starts no job, reports ``CacheHitResult.SourcePipelineExecutionArn`` and hands on that
run's properties (its ``ModelArtifacts`` among them). A training step's key attributes are
listed in :data:`TRAINING_KEY_ATTRIBUTES`; the instance type, output path and tags are not
among them.

The index is kept in a JSON file in the local work folder, beside the S3 state it points
into, so it survives a restart of the local cloud as the S3 objects do.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: CreateTrainingJob fields SageMaker compares for a training step's cache hit
TRAINING_KEY_ATTRIBUTES = (
    "AlgorithmSpecification",
    "CheckpointConfig",
    "DebugHookConfig",
    "DebugRuleConfigurations",
    "Environment",
    "HyperParameters",
    "InputDataConfig",
)

_DURATION = re.compile(
    r"^P?(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$",
    re.IGNORECASE,
)


def expire_after(text: str | None) -> _dt.timedelta | None:
    """``ExpireAfter`` (ISO 8601 duration: ``P90D``, ``p30d``, ``T12H``, ``P4DT12H``) as a
    timedelta; None for no limit. Years and months count as 365 and 30 days."""
    if not text:
        return None
    match = _DURATION.match(text.strip())
    if not match or not any(match.groupdict().values()):
        raise ValueError(f"ExpireAfter {text!r} is not an ISO 8601 duration such as P30D")
    n = {k: int(v or 0) for k, v in match.groupdict().items()}
    return _dt.timedelta(
        days=365 * n["years"] + 30 * n["months"] + 7 * n["weeks"] + n["days"],
        hours=n["hours"],
        minutes=n["minutes"],
        seconds=n["seconds"],
    )


def cache_key(pipeline_arn: str, step_name: str, arguments: dict[str, Any]) -> str:
    """The key of one training step's resolved arguments (only the compared attributes)."""
    compared = {name: arguments.get(name) for name in TRAINING_KEY_ATTRIBUTES}
    canonical = json.dumps(
        [pipeline_arn, step_name, compared], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class CachedStep:
    """A successful step run another execution may reuse."""

    execution_arn: str
    job_name: str
    job_arguments: dict[str, Any]
    properties: dict[str, Any]
    ended_at: str  # ISO 8601, UTC

    @property
    def ended(self) -> _dt.datetime:
        return _dt.datetime.fromisoformat(self.ended_at)


class StepCache:
    """The executor's index of cacheable steps that succeeded, newest per key."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, CachedStep] = {}
        if path is not None and path.is_file():
            try:
                raw = json.loads(path.read_text())
                self._entries = {k: CachedStep(**v) for k, v in raw.items()}
            except (ValueError, TypeError):
                self._entries = {}  # a damaged index only costs hits

    def lookup(
        self,
        pipeline_arn: str,
        step_name: str,
        arguments: dict[str, Any],
        config: dict[str, Any],
        now: _dt.datetime,
    ) -> CachedStep | None:
        """The run to reuse for this step, or None (caching off, no such run, expired)."""
        if not config.get("Enabled"):
            return None
        with self._lock:
            entry = self._entries.get(cache_key(pipeline_arn, step_name, arguments))
        if entry is None:
            return None
        limit = expire_after(config.get("ExpireAfter"))
        if limit is not None and now - entry.ended > limit:
            return None
        return entry

    def record(
        self, pipeline_arn: str, step_name: str, arguments: dict[str, Any], entry: CachedStep
    ) -> None:
        """Remember a successful run of a cacheable step (the newest wins)."""
        with self._lock:
            self._entries[cache_key(pipeline_arn, step_name, arguments)] = entry
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(
                    json.dumps(
                        {k: asdict(v) for k, v in self._entries.items()}, indent=1, default=str
                    )
                )
                tmp.replace(self.path)
