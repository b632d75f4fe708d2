"""What one upload may make the stack spend: the stack's bounds on a run's instances and cost.

Anyone who may write to ``inputs/`` chooses a run's instances through tags
(``MSAInstanceType``, ``InferenceInstanceType``) and its length through
``NumMultimerPredictionsPerModel``. Two stack parameters bound what they may ask for:

``PinnableInstanceFamilies`` (``FOLDLINE_PINNABLE_INSTANCE_FAMILIES``)
    the instance families a tag may name, e.g. ``ml.m5,ml.c5,ml.g5``; a type of another
    family is rejected before the file is read. Sizing's own picks are not pins.
``MaxRunCostUsd`` (``FOLDLINE_MAX_RUN_COST_USD``)
    the most a run may cost by :func:`foldline.intake.sizing.estimate_cost` (on-demand, the
    sizing table's prices); beyond it the upload is rejected with the estimate and what
    drives it. A run on a type the price table cannot price cannot be checked, so it is
    rejected too while a ceiling is set. ``0`` turns the ceiling off.

Plain Python, no AWS: the start function and ``foldline submit`` both call it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from foldline.intake.fasta import FastaRejected, Rejection
from foldline.spec.parameters import (
    INFERENCE_INSTANCE_TYPE,
    MODEL_PRESET,
    MSA_INSTANCE_TYPE,
    NUM_MULTIMER_PREDICTIONS,
)

__all__ = ["DEFAULT_FAMILIES", "DEFAULT_MAX_RUN_USD", "SpendLimits"]

FAMILIES_ENV = "FOLDLINE_PINNABLE_INSTANCE_FAMILIES"
MAX_COST_ENV = "FOLDLINE_MAX_RUN_COST_USD"
#: the CPU families the MSA step may be pinned to and the GPU families of the sizing
#: table; no p3/p4d/p4de/p5 (tens to a hundred dollars an hour) unless the stack allows them
DEFAULT_FAMILIES = ("ml.m5", "ml.c5", "ml.r5", "ml.g5", "ml.g6e")
DEFAULT_MAX_RUN_USD = 100.0
_PINNABLE = (MSA_INSTANCE_TYPE.name, INFERENCE_INSTANCE_TYPE.name)


def family(instance_type: str) -> str:
    """``ml.g5.12xlarge`` -> ``ml.g5``."""
    return instance_type.rsplit(".", 1)[0]


@dataclass(frozen=True)
class SpendLimits:
    """The stack's bounds on what an upload may ask for (see the module doc)."""

    pinnable_families: tuple[str, ...] = DEFAULT_FAMILIES
    max_run_usd: float = DEFAULT_MAX_RUN_USD  # 0: no ceiling

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SpendLimits:
        env = os.environ if env is None else env
        families = tuple(
            f.strip()
            for f in env.get(FAMILIES_ENV, ",".join(DEFAULT_FAMILIES)).split(",")
            if f.strip()
        )
        return cls(families, float(env.get(MAX_COST_ENV, DEFAULT_MAX_RUN_USD)))

    def check_pins(self, overrides: Mapping[str, Any]) -> None:
        """Reject an instance type pinned outside the stack's families (before any reading)."""
        for name in _PINNABLE:
            pinned = overrides.get(name)
            if pinned and family(str(pinned)) not in self.pinnable_families:
                raise FastaRejected(
                    Rejection(
                        "instance_not_allowed",
                        f"{name} {pinned} is not allowed by this stack: it admits "
                        f"{', '.join(self.pinnable_families) or 'no pinned types'} "
                        f"(stack parameter PinnableInstanceFamilies)",
                    )
                )

    def check_cost(self, sizing: Mapping[str, Any], parameters: Mapping[str, Any]) -> None:
        """Reject a run whose estimate exceeds the ceiling, or cannot be made under one.

        ``sizing`` is :meth:`foldline.intake.sizing.Sizing.as_item`; ``parameters`` the run's.
        """
        if self.max_run_usd <= 0:
            return
        cost = sizing["cost"]
        types = f"{sizing['msa_instance_type']} + {sizing['inference_instance_type']}"
        if cost["usd"] is None:
            unpriced = [
                t
                for t, price in (
                    (sizing["msa_instance_type"], cost["msa_usd_per_hour"]),
                    (sizing["inference_instance_type"], cost["inference_usd_per_hour"]),
                )
                if price is None
            ]
            raise FastaRejected(
                Rejection(
                    "cost_unknown",
                    f"no price for {', '.join(unpriced)} in foldline's price table, so this run "
                    f"cannot be checked against the stack's ceiling of ${self.max_run_usd:.2f} "
                    f"(MaxRunCostUsd); pin a priced type",
                )
            )
        if cost["usd"] > self.max_run_usd:
            drivers = f"{cost['msa_hours']:.2f} h + {cost['inference_hours']:.2f} h on {types}"
            if parameters.get(MODEL_PRESET.name) == "multimer":
                drivers += (
                    f", {parameters.get(NUM_MULTIMER_PREDICTIONS.name)} predictions per model"
                )
            raise FastaRejected(
                Rejection(
                    "over_cost_ceiling",
                    f"estimated cost ${cost['usd']:.2f} is over this stack's ceiling of "
                    f"${self.max_run_usd:.2f} per run (MaxRunCostUsd): {drivers}; pin a cheaper "
                    f"type or ask for fewer {NUM_MULTIMER_PREDICTIONS.name}",
                )
            )
