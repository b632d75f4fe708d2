"""Instance types and a cost estimate for a run, from its sequence lengths.

The numbers live in ``foldline/data/instance_sizing.json`` (each with its source): the
AlphaFold2 calibration on an H100 (time and peak GPU memory by length), the GPUs of the
instance families foldline may pick, the MSA rules and a dated on-demand price table.
This module only reads them:

- inference: GPU memory needed at the run's total residues (calibration curve x
  headroom + fixed), then the cheapest family whose GPU holds it (g5 < g6e < p4d <
  p4de < p5 by price);
- MSA: a CPU type by DB preset and the longest chain;
- a type the user pinned (tags ``MSAInstanceType`` / ``InferenceInstanceType``) wins;
- cost: instance hours (MSA + two inference steps) x the price table.

Pure Python (no numpy): the start function imports it.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

from foldline.spec.parameters import INFERENCE_INSTANCE_TYPE, MSA_INSTANCE_TYPE

TABLE_FILE = "instance_sizing.json"


@cache
def table() -> dict[str, Any]:
    """The sizing table (``foldline/data/instance_sizing.json``), read once."""
    return json.loads(resources.files("foldline").joinpath("data", TABLE_FILE).read_text())


def _curve(
    points: Sequence[tuple[float, float]], x: float, *, min_exponent: float, below: str
) -> float:
    """Piecewise power law through ``points`` (log-log interpolation).

    Past the last point: the last segment's exponent, at least ``min_exponent``.
    Before the first: ``below`` is "flat" (memory) or "linear" (time).
    """
    xs = [p[0] for p in points]
    if x <= xs[0]:
        return points[0][1] if below == "flat" else points[0][1] * x / xs[0]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1:
            exponent = math.log(y1 / y0) / math.log(x1 / x0)
            return y0 * (x / x0) ** exponent
    (x0, y0), (x1, y1) = points[-2], points[-1]
    exponent = max(math.log(y1 / y0) / math.log(x1 / x0), min_exponent)
    return y1 * (x / x1) ** exponent


def _points(key: str) -> list[tuple[float, float]]:
    return [(p["residues"], p[key]) for p in table()["calibration"]["points"] if p[key] is not None]


def peak_gpu_gib(residues: int) -> float:
    """AlphaFold2's peak GPU memory for one prediction at ``residues`` (H100 calibration)."""
    return _curve(_points("peak_gpu_gib"), residues, min_exponent=2.0, below="flat")


def gpu_memory_needed_gib(residues: int) -> float:
    """What an inference step needs: the peak x headroom + fixed (see the table's memory_model)."""
    model = table()["memory_model"]
    return peak_gpu_gib(residues) * model["headroom"] + model["fixed_gib"]


def usable_gib(gpu: str) -> float:
    """A GPU's memory as nvidia-smi reports it, less the CUDA context's reserve."""
    return (
        table()["gpus"][gpu]["memory_mib"] / 1024 - table()["memory_model"]["context_reserve_gib"]
    )


def predict_seconds(residues: int, gpu: str) -> float:
    """One AlphaFold2 prediction (3 recycles) on ``gpu``: H100 curve x bandwidth ratio."""
    reference = table()["time_model"]["reference_gpu"]
    h100 = _curve(_points("predict_s"), residues, min_exponent=2.0, below="linear")
    gpus = table()["gpus"]
    return h100 * gpus[reference]["bandwidth_gbs"] / gpus[gpu]["bandwidth_gbs"]


def compile_seconds(residues: int) -> float:
    return _curve(_points("compile_s"), residues, min_exponent=0.0, below="flat")


@dataclass(frozen=True)
class Family:
    name: str
    instance_type: str
    gpu: str
    usable_gib: float
    usd_per_hour: float | None


def _vcpus(size: str) -> int | None:
    """vCPUs of an EC2 size name: large 2, xlarge 4, 12xlarge 48 (None if not such a name)."""
    if size == "large":
        return 2
    multiple = size.removesuffix("xlarge")
    if not size.endswith("xlarge") or not (multiple == "" or multiple.isdigit()):
        return None
    return 4 * int(multiple or 1)


def price_per_hour(instance_type: str) -> float | None:
    """On-demand USD per hour from the price table; None where it has no price.

    A size the table does not list is priced from a listed size of its family by vCPU
    count, for the CPU families the table declares linear (``linear_in_vcpus``).
    """
    prices = table()["prices"]
    if instance_type in prices["usd_per_hour"]:
        return prices["usd_per_hour"][instance_type]
    family, _, size = instance_type.removeprefix("ml.").partition(".")
    wanted = _vcpus(size)
    if family not in prices.get("linear_in_vcpus", ()) or wanted is None:
        return None
    for listed, usd in prices["usd_per_hour"].items():
        listed_family, _, listed_size = listed.removeprefix("ml.").partition(".")
        have = _vcpus(listed_size)
        if listed_family == family and have:
            return round(usd * wanted / have, 3)
    return None


def inference_families() -> list[Family]:
    fams = table()["inference_families"]
    return [
        Family(
            name,
            fams[name]["instance_type"],
            fams[name]["gpu"],
            usable_gib(fams[name]["gpu"]),
            price_per_hour(fams[name]["instance_type"]),
        )
        for name in fams["order"]
    ]


def family_of(instance_type: str) -> Family | None:
    """The table's family for an instance type (``ml.g5.12xlarge`` -> g5), if listed."""
    name = instance_type.removeprefix("ml.").split(".")[0]
    for family in inference_families():
        if family.name == name:
            return family
    return None


def choose_inference(residues: int) -> tuple[Family, bool]:
    """The cheapest family whose GPU holds the need; (family, fits)."""
    need = gpu_memory_needed_gib(residues)
    families = inference_families()
    fitting = [f for f in families if f.usable_gib >= need]
    if fitting:
        return min(fitting, key=lambda f: f.usd_per_hour or math.inf), True
    return max(families, key=lambda f: (f.usable_gib, -(f.usd_per_hour or 0))), False


def max_residues(family: str) -> int:
    """The most total residues the family's GPU holds under the memory model."""
    fam = next(f for f in inference_families() if f.name == family)
    low, high = 1, 100_000
    while low < high:  # the need grows with length: bisect on it
        mid = (low + high + 1) // 2
        if gpu_memory_needed_gib(mid) <= fam.usable_gib:
            low = mid
        else:
            high = mid - 1
    return low


def choose_msa(db_preset: str, longest_chain: int) -> str:
    for rule in table()["msa"]["rules"]:
        limit = rule["max_chain_residues"]
        if rule["db_preset"] == db_preset and (limit is None or longest_chain <= limit):
            return rule["instance_type"]
    raise ValueError(f"no MSA sizing rule for DbPreset {db_preset!r}")


@dataclass(frozen=True)
class Sizing:
    """The instance types of one run, why, and what the run should cost."""

    msa_instance_type: str
    inference_instance_type: str
    msa_chosen_by: str  # "sizing" or "pinned"
    inference_chosen_by: str
    residues: int
    gpu_memory_needed_gib: float
    fits_gpu: bool
    cost: dict[str, Any]

    def as_item(self) -> dict[str, Any]:
        """For the runs table (plain values, rounded)."""
        out = asdict(self)
        out["gpu_memory_needed_gib"] = round(self.gpu_memory_needed_gib, 2)
        return out

    def parameters(self) -> dict[str, str]:
        return {
            MSA_INSTANCE_TYPE.name: self.msa_instance_type,
            INFERENCE_INSTANCE_TYPE.name: self.inference_instance_type,
        }


def _gpu_of(instance_type: str) -> str:
    family = family_of(instance_type)
    if family is not None:
        return family.gpu
    # g6 (L4, 24 GB) may be pinned but is not in the table: time it like the closest
    # listed GPU by memory
    return "A10G"


def estimate_cost(
    *,
    sequences: Sequence[str],
    model_preset: str,
    db_preset: str,
    msa_instance_type: str,
    inference_instance_type: str,
    predictions_per_model: int = 5,
    msa_reused: bool = False,
) -> dict[str, Any]:
    """Instance hours x on-demand price for the MSA step and both inference steps."""
    t = table()
    residues = sum(len(s) for s in sequences)
    hours_cfg = t["msa"]["hours"]
    if msa_reused:
        msa_h = hours_cfg["cache_hit_h"]
    else:
        per = hours_cfg[db_preset]
        distinct = set(sequences)
        msa_h = sum(per["base_h"] + per["per_1000_residues_h"] * len(s) / 1000 for s in distinct)
        if model_preset == "multimer":
            msa_h *= hours_cfg["multimer_factor"]
    tm = t["time_model"]
    gpu = _gpu_of(inference_instance_type)
    predictions = tm["models"] * (predictions_per_model if model_preset == "multimer" else 1)
    step_s = (
        tm["start_s"]
        + tm["models"] * compile_seconds(residues)
        + predictions * predict_seconds(residues, gpu)
        + tm["relax_s_per_1000_residues"] * residues / 1000
    )
    inference_h = step_s / 3600 * tm["engines"]
    msa_price = price_per_hour(msa_instance_type)
    gpu_price = price_per_hour(inference_instance_type)
    usd = None
    if msa_price is not None and gpu_price is not None:
        usd = round(msa_h * msa_price + inference_h * gpu_price, 2)
    return {
        "usd": usd,
        "msa_hours": round(msa_h, 3),
        "inference_hours": round(inference_h, 3),
        "msa_usd_per_hour": msa_price,
        "inference_usd_per_hour": gpu_price,
        "prices_as_of": t["prices"]["as_of"],
        "msa_reused": msa_reused,
    }


def size_run(
    sequences: Sequence[str],
    *,
    model_preset: str,
    db_preset: str,
    pinned: Mapping[str, Any] | None = None,
    predictions_per_model: int = 5,
    msa_reused: bool = False,
) -> Sizing:
    """Instance types for a run (a pinned type wins) and its cost estimate."""
    pinned = pinned or {}
    residues = sum(len(s) for s in sequences)
    family, fits = choose_inference(residues)
    msa_type = str(
        pinned.get(MSA_INSTANCE_TYPE.name)
        or choose_msa(db_preset, max((len(s) for s in sequences), default=0))
    )
    gpu_type = str(pinned.get(INFERENCE_INSTANCE_TYPE.name) or family.instance_type)
    cost = estimate_cost(
        sequences=sequences,
        model_preset=model_preset,
        db_preset=db_preset,
        msa_instance_type=msa_type,
        inference_instance_type=gpu_type,
        predictions_per_model=predictions_per_model,
        msa_reused=msa_reused,
    )
    return Sizing(
        msa_instance_type=msa_type,
        inference_instance_type=gpu_type,
        msa_chosen_by="pinned" if pinned.get(MSA_INSTANCE_TYPE.name) else "sizing",
        inference_chosen_by="pinned" if pinned.get(INFERENCE_INSTANCE_TYPE.name) else "sizing",
        residues=residues,
        gpu_memory_needed_gib=gpu_memory_needed_gib(residues),
        fits_gpu=fits,
        cost=cost,
    )


def cost_line(item: Mapping[str, Any] | None, *, local: bool = False) -> str | None:
    """One line for people: "Estimated cost: $3.10 (…)", from a runs-table item.

    ``local`` (a run of ``foldline local``, which costs nothing): the same estimate,
    labelled as what the run would cost in AWS.
    """
    sizing = (item or {}).get("sizing") or {}
    cost = sizing.get("cost") or {}
    if not cost:
        return None
    usd = cost.get("usd")
    amount = f"${float(usd):.2f}" if usd is not None else "unknown (type not in the price table)"
    label = (
        "Cloud cost estimate (this local run cost nothing; the same run in AWS)"
        if local
        else "Estimated cost"
    )
    return (
        f"{label}: {amount} on-demand ({float(cost['msa_hours']):.2f} h "
        f"{sizing.get('msa_instance_type')} + {float(cost['inference_hours']):.2f} h "
        f"{sizing.get('inference_instance_type')}; prices of {cost.get('prices_as_of')})"
    )
