"""What the start function decides for a run beyond its FASTA: MSA reuse, sizing, cost.

One call from :func:`foldline.intake.start.start_run`, between parsing the upload and claiming
the run: the MSA cache key and location (a hit is recorded as "MSA reused from run X"),
the instance types (a pinned tag wins) and the cost estimate. The returned fields go
into the runs table with the claim, so they are there from the run's first moment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from foldline.intake import sizing
from foldline.spec.parameters import (
    DB_PRESET,
    MAX_TEMPLATE_DATE,
    MODEL_PRESET,
    MSA_CACHE_S3_URI,
    MSA_ENGINE,
    NUM_MULTIMER_PREDICTIONS,
)
from foldline.steps import msa_cache

if TYPE_CHECKING:  # Bio.SeqIO pulls numpy in: the notify and analysis paths need neither
    from foldline.intake.fasta import Decision
    from foldline.intake.spend_limits import SpendLimits

log = logging.getLogger("foldline.intake.start")


def plan_run(
    s3: Any,
    bucket: str,
    decision: Decision,
    parameters: Mapping[str, str],
    overrides: Mapping[str, Any],
    spend: SpendLimits | None = None,
) -> tuple[dict[str, str], dict[str, Any]]:
    """The run's parameters completed (cache location, instance types) and the
    runs-table fields that record why (``msa_cache_key``, ``msa_reused_from``, ``sizing``).

    With ``spend``, a run whose cost estimate is over the stack's ceiling raises
    :class:`foldline.intake.fasta.FastaRejected` before anything is written.
    """
    params = dict(parameters)
    sequences = [c.sequence for c in decision.chains]
    key = msa_cache.cache_key(
        sequences,
        db_preset=params[DB_PRESET.name],
        max_template_date=params[MAX_TEMPLATE_DATE.name],
        model_preset=params[MODEL_PRESET.name],
        engine=msa_cache.resolve_engine(
            {**os.environ, msa_cache.ENGINE_ENV: params[MSA_ENGINE.name]}
        ),
    )
    try:
        entry = msa_cache.lookup(s3, bucket, key.key)
    except (ClientError, BotoCoreError) as err:  # the MSA step looks again: not fatal here
        log.warning("MSA cache lookup failed for %s: %s", key.key, err)
        entry = None
    sized = sizing.size_run(
        sequences,
        model_preset=params[MODEL_PRESET.name],
        db_preset=params[DB_PRESET.name],
        pinned=overrides,
        predictions_per_model=int(
            params.get(NUM_MULTIMER_PREDICTIONS.name, NUM_MULTIMER_PREDICTIONS.default)
        ),
        msa_reused=entry is not None,
    )
    params.update(sized.parameters())
    if spend is not None:  # raises FastaRejected: over the stack's ceiling, nothing staged
        spend.check_cost(sized.as_item(), params)
    # The MSA step reads its FASTA from there: no run may start without it (an error
    # here fails the record, which the queue retries).
    msa_cache.stage_query(s3, bucket, key)
    params[MSA_CACHE_S3_URI.name] = msa_cache.cache_uri(bucket, key.key)
    fields: dict[str, Any] = {"msa_cache_key": key.key, "sizing": sized.as_item()}
    if entry is not None:
        fields["msa_reused_from"] = entry.origin_run
    return params, fields


def run_notes(item: Mapping[str, Any] | None, *, local: bool = False) -> list[str]:
    """Lines for the report and the notices: "MSA reused from run X", the cost estimate
    (``local``: labelled as what the run would cost in AWS), and the DbPreset the stack's
    databases chose (foldline.databases.presets.Readiness)."""
    chosen = (item or {}).get("db_preset_note")
    cost = sizing.cost_line(item, local=local)
    return [line for line in (msa_cache.reuse_line(item), cost, chosen) if line]
