"""Which MSA engine made the run's MSAs, and over which databases: from the MSA step's
``foldline-step.json`` (its ``msa_source``), for metrics.json, the report and the notices."""

from __future__ import annotations

from typing import Any

from foldline.spec.parameters import DB_PRESET

#: the manifest's word for a step that copied MSAs instead of searching
CACHE_ENGINE = "cache"


def msa_engine(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    """``metrics.json``'s ``msa_engine``: ``engine``, ``engine_version``, ``db_preset``,
    ``databases`` (names, or None where the step did not record them) and ``reused_from``
    (the run whose search was reused, or None). None where the step's manifest says nothing
    about the search (no manifest, or a copy of MSAs whose maker is unknown).

    >>> msa_engine({"engine": "pyhmmer", "engine_version": "0.12.3",
    ...             "parameters": {"DbPreset": "reduced_dbs"}})["databases"] is None
    True
    """
    if not manifest:
        return None
    source = manifest.get("msa_source")
    if isinstance(source, dict) and source.get("engine"):
        return {
            "engine": str(source["engine"]),
            "engine_version": source.get("engine_version"),
            "db_preset": source.get("db_preset"),
            "databases": list(source["databases"]) if source.get("databases") else None,
            "reused_from": source.get("reused_from"),
        }
    engine = manifest.get("engine")
    if not engine or engine == CACHE_ENGINE:  # an older manifest: who searched is not said
        return None
    return {  # a manifest from before msa_source: its own engine searched
        "engine": str(engine),
        "engine_version": manifest.get("engine_version"),
        "db_preset": (manifest.get("parameters") or {}).get(DB_PRESET.name),
        "databases": None,
        "reused_from": None,
    }


def describe(section: dict[str, Any] | None) -> str | None:
    """ "pyhmmer 0.12.3 over reduced_dbs (uniref90, mgnify, small_bfd, pdb70)", with
    "reused from run X" for a cache hit; None without a section.

    >>> describe({"engine": "mmseqs2", "engine_version": "14", "db_preset": "reduced_dbs",
    ...           "databases": ["uniref90", "pdb70"], "reused_from": "t-1"})
    'mmseqs2 14 over reduced_dbs (uniref90, pdb70), reused from run t-1'
    """
    if not section:
        return None
    text = section["engine"]
    if section.get("engine_version") and section["engine_version"] != "unknown":
        text += f" {section['engine_version']}"
    if section.get("db_preset"):
        text += f" over {section['db_preset']}"
        if section.get("databases"):
            text += f" ({', '.join(section['databases'])})"
    if section.get("reused_from"):
        text += f", reused from run {section['reused_from']}"
    return text
