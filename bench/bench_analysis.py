"""Analysis benchmark: two ~1,000-residue models -> metrics, plots and report.

The models are real coordinates: PDB entry 2GTL (Lumbricus erythrocruorin), as the
tmtools package ships it. "AlphaFold" is chains A-G (7 chains, 1,022 residues; A/E, B/F,
C/G share sequences, so the homomer chain matching is exercised); "OpenFold" is chains
E-K (the same sequences in another copy of the assembly), perturbed so the two models
differ as two engines' do: 1.0 Å Gaussian noise per coordinate and chain K moved 5 Å.
B-factors stand in for pLDDT (clipped to 0-100). The AlphaFold side has a result
pickle with pLDDT and a SYNTHETIC 1,022 x 1,022 PAE, so the PAE heatmap is drawn too.

Measured, each in a fresh Python process (as a cold Lambda would run it): wall time of
imports + ``analyze`` (cold), a second ``analyze`` in the same process (warm), the
process' CPU time and peak resident memory (``ru_maxrss``). Targets (issue 7): <= 2 s,
<= 512 MB. Wall times on a shared machine depend on its load: the load average is
recorded with the numbers.

Run: ``python bench/bench_analysis.py [--repeats 3]``. Prints one line per run and a
summary, and writes ``bench/results/analysis.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 2.0
TARGET_MB = 512

_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from pathlib import Path
from foldline.analysis import analyze
t_import = time.perf_counter() - t0
af, of, out = map(Path, sys.argv[1:4])
t1 = time.perf_counter()
metrics = analyze(af, of, out / "cold", context={"run_id": "bench", "target": "2GTL A-G"})
t_cold = time.perf_counter() - t1
t2 = time.perf_counter()
analyze(af, of, out / "warm", context={"run_id": "bench", "target": "2GTL A-G"})
t_warm = time.perf_counter() - t2
print(json.dumps({
    "import_s": t_import, "analyze_cold_s": t_cold, "total_cold_s": t_import + t_cold,
    "analyze_warm_s": t_warm, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "cpu_s_both_calls": (lambda u: u.ru_utime + u.ru_stime)(resource.getrusage(resource.RUSAGE_SELF)),
    "residues": metrics["engines"]["alphafold"]["n_residues"],
    "tm_score": metrics["comparison"]["complex"]["tm_score"],
    "rmsd": metrics["comparison"]["complex"]["rmsd"],
    "plots": sorted(metrics["files"]["plots"]),
    "report_bytes": (out / "cold" / "report.html").stat().st_size,
}))
"""


def build_inputs(folder: Path) -> tuple[Path, Path]:
    """Write the AlphaFold- and OpenFold-layout folders from 2GTL (see module docstring)."""
    import gemmi
    import numpy as np
    import tmtools

    source = Path(tmtools.__file__).parent / "data" / "2gtl.cif"

    def subset(names: list[str]) -> gemmi.Structure:
        s = gemmi.read_structure(str(source))
        s.remove_ligands_and_waters()
        s.remove_hydrogens()
        for ch in [c.name for c in s[0]]:
            if ch not in names:
                s[0].remove_chain(ch)
        for residue_chain in s[0]:
            for residue in residue_chain:
                for atom in residue:
                    atom.b_iso = float(min(max(atom.b_iso, 0.0), 100.0))
        s.setup_entities()
        return s

    af_dir, of_dir = folder / "alphafold", folder / "openfold"
    (of_dir / "predictions").mkdir(parents=True)
    af_dir.mkdir()
    reference = subset(list("ABCDEFG"))
    reference.write_pdb(str(af_dir / "ranked_0.pdb"))
    reference.write_pdb(str(af_dir / "unrelaxed_model_1_multimer_v3_pred_0.pdb"))

    mobile = subset(list("EFGHIJK"))
    rng = np.random.default_rng(2026)
    for chain in mobile[0]:
        shift = np.array([5.0, 0, 0]) if chain.name == "K" else np.zeros(3)
        for residue in chain:
            for atom in residue:
                p = (
                    np.array([atom.pos.x, atom.pos.y, atom.pos.z])
                    + rng.normal(scale=1.0, size=3)
                    + shift
                )
                atom.pos = gemmi.Position(*p)
    mobile.write_pdb(str(of_dir / "predictions" / "2GTL_model_1_multimer_v3_unrelaxed.pdb"))

    n = sum(len(c) for c in reference[0])
    plddt = np.array([r[0].b_iso for c in reference[0] for r in c])
    idx = np.arange(n)
    pae = (np.abs(idx[:, None] - idx[None, :]) / n * 25 + 1).astype(np.float32)  # synthetic
    with open(af_dir / "result_model_1_multimer_v3_pred_0.pkl", "wb") as handle:
        pickle.dump(
            {
                "plddt": plddt,
                "predicted_aligned_error": pae,
                "ptm": np.float64(0.8),
                "iptm": np.float64(0.75),
            },
            handle,
        )
    ranking = {
        "iptm+ptm": {"model_1_multimer_v3_pred_0": 0.76},
        "order": ["model_1_multimer_v3_pred_0"],
    }
    (af_dir / "ranking_debug.json").write_text(json.dumps(ranking))
    return af_dir, of_dir


def run_once(af_dir: Path, of_dir: Path, out: Path) -> dict:
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(af_dir), str(of_dir), str(out)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "analysis.json")
    args = parser.parse_args(argv)

    runs = []
    with tempfile.TemporaryDirectory(prefix="foldline-bench-analysis-") as tmp:
        af_dir, of_dir = build_inputs(Path(tmp))
        for i in range(args.repeats):
            result = run_once(af_dir, of_dir, Path(tmp) / f"out{i}")
            runs.append(result)
            print(
                f"run {i + 1}: {result['residues']} residues, TM {result['tm_score']:.3f}, "
                f"RMSD {result['rmsd']:.2f} Å | imports {result['import_s']:.2f} s + analyze "
                f"{result['analyze_cold_s']:.2f} s = {result['total_cold_s']:.2f} s cold, "
                f"{result['analyze_warm_s']:.2f} s warm | CPU {result['cpu_s_both_calls']:.2f} s "
                f"(both calls) | peak RSS {result['peak_rss_mb']:.0f} MB"
            )
    cold = statistics.median(r["total_cold_s"] for r in runs)
    warm = statistics.median(r["analyze_warm_s"] for r in runs)
    peak = max(r["peak_rss_mb"] for r in runs)
    summary = {
        "benchmark": "analysis of two ~1,000-residue models (metrics + plots + report)",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "median_cold_s": round(cold, 3),
        "median_warm_s": round(warm, 3),
        "peak_rss_mb": round(peak, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "target_s": TARGET_SECONDS,
        "target_mb": TARGET_MB,
        "meets_targets": cold <= TARGET_SECONDS and peak <= TARGET_MB,
        "runs": runs,
    }
    print(
        f"analysis (2 x {runs[0]['residues']} residues): {cold:.2f} s cold incl. imports, "
        f"{warm:.2f} s warm, peak {peak:.0f} MB (targets <= {TARGET_SECONDS} s, <= {TARGET_MB} MB); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
