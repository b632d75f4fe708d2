#!/usr/bin/env python3
"""AlphaFold2 model time and peak GPU memory at a given length (issue 7, item 6).

Extends ../shared/data/calibration/ (H100, 256-2,048 residues timed) with more
lengths, measured the same way: the alphafold-colabfold model code run as ColabFold
runs it (``RunModel.predict``: one jit-compiled recycle iteration, called
num_recycle + 1 times from Python, outputs copied to the host after each),
model_1_ptm, bfloat16, 3 recycles, full MSA depth (508 clusters + 5,120 extra rows
+ 4 template slots), global subbatch 4, no Pallas kernels, random parameters (the
time and memory of a forward pass do not depend on the weights' values).

Features come from alphafold's own feature pipeline (``RunModel.process_features``
on a synthetic MSA of random residues, deep enough to fill every cluster and extra
row, and 4 synthetic templates), so their shapes and dtypes are those of a real run.

Per length: lower + AOT-compile the iteration (XLA's static memory plan is read off
the compiled executable), then one timed ``RunModel.predict`` on the compiled
executable (per-iteration times through predict's callback), then the allocator's
peak (``memory_stats()['peak_bytes_in_use']``, cumulative over the process: run one
length per process to read each length's own peak). The JSON is rewritten after
every stage, so a run killed at its time limit still leaves what it finished.

Not a test and not run in CI: it needs jax, dm-haiku, ml-collections, dm-tree, jmp
and alphafold-colabfold, and a GPU for meaningful numbers. ``--cpu-smoke`` runs a tiny
configuration on the CPU to check imports and shapes.

    PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false \\
      python3 bench/gpu_calibration.py --lengths 2560 --out af2-h100-2560.json
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import socket
import subprocess
import sys
import time
from importlib import metadata

# The shared table's 2,048-residue point: s per iteration on an H100; time grows
# about as L^2.2 at these lengths. Used only to decide what fits a deadline.
_REF_L, _REF_S_PER_ITER, _EXPONENT = 2048, 51.74, 2.2
_TUNED_GEMM = "block_m: 64 block_n: 64 block_k: 16 num_stages: 3 num_warps: 4 num_ctas: 1"


class _Deadline(Exception):
    pass


def _now_utc() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in (
        "jax",
        "jaxlib",
        "jax-cuda13-plugin",
        "jax-cuda13-pjrt",
        "jax-cuda12-plugin",
        "jax-cuda12-pjrt",
        "alphafold-colabfold",
        "dm-haiku",
        "numpy",
        "ml-collections",
        "dm-tree",
        "jmp",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _nvidia_smi() -> str | None:
    try:
        return (
            subprocess.run(
                [
                    "nvidia-smi",
                    "--query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit",
                    "--format=csv,noheader",
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        return None


def _device_info(jax) -> dict:
    d = jax.devices()[0]
    info = {
        "platform": d.platform,
        "device_kind": d.device_kind,
        "num_devices": jax.device_count(),
        "backend": jax.default_backend(),
    }
    for attr in ("compute_capability", "core_count"):
        if hasattr(d, attr):
            info[attr] = str(getattr(d, attr))
    stats = _mem(jax)
    if stats:
        info["allocator_bytes_limit"] = stats.get("bytes_limit")
    info["nvidia_smi"] = _nvidia_smi()
    return info


def _mem(jax) -> dict:
    try:
        return jax.devices()[0].memory_stats() or {}
    except Exception:  # noqa: BLE001 - CPU backends may not implement it
        return {}


def synthetic_raw_features(L: int, msa_rows: int, templates: int, seed: int):
    """A raw feature dict as AlphaFold's data pipeline writes it (random content)."""
    import numpy as np
    from alphafold.common import residue_constants as rc

    rng = np.random.default_rng(seed)
    aatype = rng.integers(0, 20, size=L)
    seq = "".join(rc.restypes[i] for i in aatype)
    msa = rng.integers(0, 21, size=(msa_rows, L)).astype(np.int32)
    msa[0] = aatype
    deletions = (rng.random((msa_rows, L)) < 0.02).astype(np.int32)
    deletions[0] = 0
    feats = {
        "aatype": np.eye(21, dtype=np.int32)[aatype],
        "between_segment_residues": np.zeros(L, np.int32),
        "domain_name": np.array([b"synthetic"], dtype=np.object_),
        "residue_index": np.arange(L, dtype=np.int32),
        "seq_length": np.full(L, L, dtype=np.int32),
        "sequence": np.array([seq.encode()], dtype=np.object_),
        "msa": msa,
        "deletion_matrix_int": deletions,
        "num_alignments": np.full(L, msa_rows, dtype=np.int32),
    }
    # Templates: a random walk of CA atoms (3.8 A steps) with N/C/O/CB beside them.
    t_aatype = np.eye(22, dtype=np.float32)[np.broadcast_to(aatype, (templates, L))]
    pos = np.zeros((templates, L, rc.atom_type_num, 3), np.float32)
    mask = np.zeros((templates, L, rc.atom_type_num), np.float32)
    for t in range(templates):
        steps = rng.normal(size=(L, 3))
        steps *= 3.8 / np.linalg.norm(steps, axis=1, keepdims=True)
        ca = np.cumsum(steps, axis=0)
        for name, off in (
            ("N", (-1.2, 0.6, 0.0)),
            ("CA", (0, 0, 0)),
            ("C", (1.2, 0.6, 0.0)),
            ("O", (1.6, 1.6, 0.3)),
            ("CB", (0.0, -1.0, 1.2)),
        ):
            i = rc.atom_order[name]
            pos[t, :, i] = ca + np.asarray(off)
            mask[t, :, i] = 1.0
    feats.update(
        {
            "template_aatype": t_aatype,
            "template_all_atom_positions": pos,
            "template_all_atom_masks": mask,
            "template_domain_names": np.array(
                [b"tmpl%d" % t for t in range(templates)], dtype=np.object_
            ),
            "template_sum_probs": np.full((templates, 1), 0.9, np.float32),
        }
    )
    return feats


def build_config(args):
    from alphafold.model import config as af_config

    cfg = af_config.model_config(args.model)
    cfg.model.num_recycle = args.num_recycle
    cfg.data.common.num_recycle = args.num_recycle
    cfg.data.eval.num_ensemble = 1
    gc = cfg.model.global_config
    gc.bfloat16 = not args.fp32
    gc.subbatch_size = args.subbatch
    gc.use_pallas = False
    if args.colabfold_heads:
        # ColabFold turns these heads off unless their outputs are saved; AlphaFold's
        # run_alphafold.py keeps them (the default here).
        for head in ("distogram", "masked_msa", "experimentally_resolved"):
            cfg.model.heads[head].weight = 0.0
    if args.msa is not None:
        cfg.data.eval.max_msa_clusters = args.msa
    if args.extra_msa is not None:
        cfg.data.common.max_extra_msa = args.extra_msa
    return cfg


def run(args) -> dict:
    t_start = time.perf_counter()
    import haiku as hk
    import jax
    import numpy as np
    from alphafold.model import model as af_model

    deadline = args.deadline if args.deadline else float("inf")
    on_gpu = jax.default_backend() == "gpu"
    cfg = build_config(args)
    jit_kwargs = {}
    if on_gpu and args.compile_mode == "tuned":
        jit_kwargs = {"compiler_options": {"xla_gpu_override_gemm_autotuner": _TUNED_GEMM}}
    runner = af_model.RunModel(cfg, params=None, jit_kwargs=jit_kwargs)

    templates = cfg.data.eval.max_templates if cfg.data.common.use_templates else 0
    report = {
        "meta": {
            "started_utc": _now_utc(),
            "versions": _versions(),
            "device": _device_info(jax),
            "hostname": socket.gethostname(),
            "args": {k: v for k, v in vars(args).items()},
            "env": {
                k: os.environ.get(k)
                for k in (
                    "XLA_PYTHON_CLIENT_PREALLOCATE",
                    "XLA_PYTHON_CLIENT_MEM_FRACTION",
                    "XLA_FLAGS",
                )
                if os.environ.get(k) is not None
            },
            "config": {
                "model": args.model,
                "bfloat16": bool(cfg.model.global_config.bfloat16),
                "use_pallas": bool(cfg.model.global_config.use_pallas),
                "subbatch_size": cfg.model.global_config.subbatch_size,
                "num_recycle": cfg.model.num_recycle,
                "iterations": cfg.model.num_recycle + 1,
                "max_msa_clusters": cfg.data.eval.max_msa_clusters,
                "max_extra_msa": cfg.data.common.max_extra_msa,
                "templates_enabled": bool(cfg.model.embeddings_and_evoformer.template.enabled),
                "max_templates": cfg.data.eval.max_templates,
                "evoformer_blocks": cfg.model.embeddings_and_evoformer.evoformer_num_block,
                "extra_msa_blocks": cfg.model.embeddings_and_evoformer.extra_msa_stack_num_block,
                "heads": sorted(k for k, v in cfg.model.heads.items() if v.weight),
                "compile_mode": args.compile_mode,
                "jit_kwargs": jit_kwargs,
            },
            "notes": [
                "random params (see init.how); timing/memory do not depend on weight values",
                (
                    "features: alphafold's feature pipeline (RunModel.process_features) on a "
                    "synthetic raw MSA of random residues and synthetic templates"
                ),
                (
                    "run_s: one RunModel.predict = num_recycle+1 iterations on the AOT-compiled "
                    "iteration, outputs copied to host each iteration"
                ),
                (
                    "peak_bytes_in_use is cumulative over the process (one length per process "
                    "gives each length's own peak)"
                ),
                (
                    "xla_memory: XLA's static plan for ONE recycle iteration; needed_bytes = "
                    "args (params, features, prev) + temps + outputs - aliased"
                ),
            ],
        },
        "results": [],
        "finished": False,
    }

    def save():
        report["total_s"] = round(time.perf_counter() - t_start, 2)
        if args.out:
            tmp = args.out + ".tmp"
            with open(tmp, "w") as f:
                json.dump(report, f, indent=1, default=str)
            os.replace(tmp, args.out)

    def feats_for(L):
        raw = synthetic_raw_features(L, args.msa_rows, templates, args.seed)
        feat = dict(runner.process_features(raw, random_seed=args.seed))
        # ColabFold passes a chain id per residue to the monomer model too (one chain).
        feat["asym_id"] = np.zeros(feat["aatype"].shape, np.int64)
        return feat

    # Random parameters, initialised on a short sequence (parameter shapes do not
    # depend on the length or the MSA depth).
    t = time.perf_counter()
    small = feats_for(16)
    report["meta"]["feature_schema_L16"] = {
        k: [list(v.shape), str(v.dtype)] for k, v in small.items()
    }
    init_feat = jax.tree_util.tree_map(lambda x: x[:1], small)
    if args.init == "haiku":
        how = "random (haiku init of the model on a 16-residue input)"
        runner.params = hk.data_structures.to_mutable_dict(
            runner.init(jax.random.PRNGKey(args.seed), init_feat)
        )
    else:
        # haiku's init compiled on the GPU takes ~90 s; the same parameter tree from
        # jax.eval_shape, filled with numpy (LayerNorm scale 1, offsets/biases 0, weights
        # normal / sqrt(fan-in)), takes seconds. Values do not change time or memory.
        how = (
            "random (parameter shapes from jax.eval_shape of haiku init on a "
            "16-residue input; numpy normal/sqrt(fan_in) weights, unit scales, zero "
            "offsets and biases)"
        )
        shapes = jax.eval_shape(runner.init, jax.random.PRNGKey(args.seed), init_feat)
        rng = np.random.default_rng(args.seed)

        def fill(name, sds):
            if name == "scale":
                return np.ones(sds.shape, sds.dtype)
            if name in ("offset", "bias") or name.endswith("_b") or len(sds.shape) < 2:
                return np.zeros(sds.shape, sds.dtype)
            fan_in = int(np.prod(sds.shape[:-1])) or 1
            return (rng.standard_normal(sds.shape, np.float32) / np.sqrt(fan_in)).astype(sds.dtype)

        runner.params = {
            mod: {k: jax.device_put(fill(k, v)) for k, v in d.items()} for mod, d in shapes.items()
        }
    jax.block_until_ready(runner.params)
    leaves = jax.tree_util.tree_leaves(runner.params)
    report["meta"]["init"] = {
        "how": how,
        "init_s": round(time.perf_counter() - t, 3),
        "num_params": int(sum(x.size for x in leaves)),
        "param_bytes": int(sum(x.size * x.dtype.itemsize for x in leaves)),
        "bytes_in_use_after_init": _mem(jax).get("bytes_in_use"),
    }
    del small, init_feat
    save()
    print(f"init {report['meta']['init']}", flush=True)

    jit_apply = runner.apply
    for L in args.lengths:
        res = {"L": L, "status": "started"}
        report["results"].append(res)
        est_iter = (
            args.est_iter_s if args.est_iter_s else _REF_S_PER_ITER * (L / _REF_L) ** _EXPONENT
        )
        res["estimate_s_per_iter"] = round(est_iter, 1)
        if time.time() + args.est_compile_s > deadline:
            res["status"] = "skipped"
            res["reason"] = "deadline: no time left to compile"
            save()
            continue

        t = time.perf_counter()
        feat = feats_for(L)
        res["features_s"] = round(time.perf_counter() - t, 3)
        res["msa_rows"] = int(feat["msa_feat"].shape[1])
        res["extra_rows"] = int(feat["extra_msa"].shape[1])
        res["templates"] = int(feat["template_aatype"].shape[1]) if templates else 0
        res["templates_enabled"] = bool(templates)
        res["feature_shapes"] = {
            k: list(v.shape)
            for k, v in feat.items()
            if k in ("aatype", "msa_feat", "extra_msa", "template_all_atom_positions")
        }

        # Lower and compile one iteration exactly as RunModel.predict calls it.
        half = np.float16
        prev = {
            "prev_msa_first_row": np.zeros([L, 256], half),
            "prev_pair": np.zeros([L, L, 128], half),
            "prev_pos": np.zeros([L, 37, 3], half),
        }
        sub = jax.tree_util.tree_map(lambda x: x[0:1], feat)
        _, key = jax.random.split(jax.random.PRNGKey(args.seed))
        t = time.perf_counter()
        lowered = jit_apply.lower(runner.params, key, {**sub, "prev": prev})
        res["lower_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        compiled = lowered.compile()
        res["compile_s"] = round(time.perf_counter() - t, 3)
        del lowered, sub, prev
        try:
            ma = compiled.memory_analysis()
        except Exception:  # noqa: BLE001
            ma = None
        if ma is not None:
            xm = {
                k: getattr(ma, k)
                for k in (
                    "argument_size_in_bytes",
                    "output_size_in_bytes",
                    "alias_size_in_bytes",
                    "temp_size_in_bytes",
                    "generated_code_size_in_bytes",
                    "peak_memory_in_bytes",
                    "total_allocation_bytes",
                )
                if hasattr(ma, k)
            }
            xm["needed_bytes"] = (
                xm.get("argument_size_in_bytes", 0)
                + xm.get("output_size_in_bytes", 0)
                + xm.get("temp_size_in_bytes", 0)
                - xm.get("alias_size_in_bytes", 0)
            )
            res["xla_memory"] = xm
        res["status"] = "compiled"
        save()
        print(
            f"L={L} compiled in {res['compile_s']} s (lower {res['lower_s']} s); "
            f"plan {res.get('xla_memory', {}).get('needed_bytes', 0) / 2**30:.2f} GiB",
            flush=True,
        )

        left = deadline - time.time()
        if est_iter * 1.15 > left:
            res["reason"] = (
                f"deadline: estimated {est_iter:.0f} s per iteration > "
                f"{left:.0f} s left: compiled only"
            )
            save()
            continue

        # One prediction on the compiled iteration.
        runner.apply = compiled
        res["bytes_in_use_before"] = _mem(jax).get("bytes_in_use")
        iter_s = []
        marks = [time.perf_counter()]

        def callback(result, r, iter_s=iter_s, marks=marks, res=res, L=L):  # this length's
            now = time.perf_counter()
            iter_s.append(round(now - marks[-1], 4))
            marks.append(now)
            res["run_per_iter_s"] = list(iter_s)
            res["peak_bytes_in_use"] = _mem(jax).get("peak_bytes_in_use")
            save()
            print(f"L={L} iteration {r}: {iter_s[-1]:.2f} s", flush=True)
            if r < cfg.model.num_recycle and time.time() + 1.15 * iter_s[-1] > deadline:
                raise _Deadline()

        try:
            _, recycles = runner.predict(feat, random_seed=args.seed, callback=callback)
            res["recycles_done"] = int(recycles)
            res["run_s"] = round(time.perf_counter() - marks[0], 4)
            res["run_source"] = "one RunModel.predict after AOT compile"
            res["status"] = "ok"
        except _Deadline:
            res["recycles_done"] = len(iter_s) - 1
            res["status"] = "partial"
            res["reason"] = (
                f"deadline: stopped after {len(iter_s)} of {cfg.model.num_recycle + 1} iterations"
            )
        finally:
            runner.apply = jit_apply
        res["iterations"] = len(iter_s)
        res["s_per_iter"] = round(sum(iter_s) / len(iter_s), 4)
        if res["status"] == "partial":
            res["run_s_projected"] = round(res["s_per_iter"] * (cfg.model.num_recycle + 1), 1)
        stats = _mem(jax)
        res["peak_bytes_in_use"] = stats.get("peak_bytes_in_use")
        res["bytes_in_use_after"] = stats.get("bytes_in_use")
        res["largest_alloc_size"] = stats.get("largest_alloc_size")
        del compiled, feat
        save()
        peak = res["peak_bytes_in_use"] or 0
        print(
            f"L={L} {res['status']}: run {res.get('run_s')} s, "
            f"{res['s_per_iter']} s/iteration, peak {peak / 2**30:.2f} GiB",
            flush=True,
        )

    report["finished"] = True
    save()
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", type=int, nargs="+", required=True)
    p.add_argument("--model", default="model_1_ptm")
    p.add_argument("--num-recycle", type=int, default=3)
    p.add_argument(
        "--msa",
        type=int,
        default=None,
        help="max MSA clusters (default: the model's, 512 - 4 templates)",
    )
    p.add_argument(
        "--extra-msa",
        type=int,
        default=None,
        help="max extra MSA rows (default: the model's, 5,120)",
    )
    p.add_argument(
        "--msa-rows",
        type=int,
        default=6144,
        help="rows of the synthetic raw MSA (enough for full depth)",
    )
    p.add_argument("--subbatch", type=int, default=4)
    p.add_argument("--fp32", action="store_true")
    p.add_argument(
        "--colabfold-heads",
        action="store_true",
        help="drop the distogram, masked-MSA and experimentally-resolved "
        "heads as ColabFold does when it does not save them (the shared "
        "H100 table was measured so; default: all heads, as run_alphafold.py)",
    )
    p.add_argument("--compile-mode", choices=("tuned", "default"), default="tuned")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--init",
        choices=("haiku", "fast"),
        default="haiku",
        help="random parameters by haiku init (compiled: ~90 s on a GPU) "
        "or from eval_shape + numpy (seconds)",
    )
    p.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="unix time by which to stop (compile-only or fewer iterations)",
    )
    p.add_argument("--est-iter-s", type=float, default=None)
    p.add_argument("--est-compile-s", type=float, default=40.0)
    p.add_argument(
        "--cpu-smoke",
        action="store_true",
        help="tiny MSA on the CPU: checks imports and shapes only",
    )
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if args.cpu_smoke:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        args.msa = args.msa or 16
        args.extra_msa = args.extra_msa or 32
        args.msa_rows = min(args.msa_rows, 64)
        args.est_iter_s = args.est_iter_s or 1.0
    report = run(args)
    print(
        json.dumps(
            [
                {
                    k: r.get(k)
                    for k in (
                        "L",
                        "status",
                        "compile_s",
                        "run_s",
                        "s_per_iter",
                        "peak_bytes_in_use",
                    )
                }
                for r in report["results"]
            ]
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
