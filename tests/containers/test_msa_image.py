"""RunMSA in its image, under the real SageMaker training toolkit, on the bundled example.

The example databases hold FASTA databases only (no BFD/UniRef30 HH-suite databases, no
pdb70), so the job runs DbPreset reduced_dbs (jackhmmer over small BFD) and the monomer
preset's HHsearch template search over a pdb70 made from the template library's chains
(conftest.databases): AlphaFold's own data pipeline end to end, every tool real.
"""

from __future__ import annotations

import json
import pickle
import re

from foldline.steps import msa_cache
from tests.containers.conftest import EXAMPLES, IN_IMAGE, TrainingJob, run_in_image


def test_msa_image_tools_are_the_cache_keys_versions(images):
    """The MSA cache key names the image's tools: they must be the installed ones."""
    done = run_in_image(
        images["msa"],
        "bash",
        "-c",
        "dpkg-query -W -f '${Package} ${Version}\\n' hmmer hhsuite kalign; "
        "/opt/alphafold-env/bin/pip show alphafold-colabfold | grep ^Version",
    )
    assert done.returncode == 0, done.stderr
    found = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    tools = msa_cache.ALPHAFOLD_TOOLS
    assert f"{found['hmmer']} (debian)" == tools["hmmer"]
    assert f"{found['hhsuite']} (debian)" == tools["hh-suite"]
    assert f"{found['kalign']} (debian)" == tools["kalign"]
    assert f"alphafold-colabfold {found['Version:']}" == tools["alphafold"]


def test_msa_image_mmseqs_is_the_cache_keys_version(images):
    done = run_in_image(images["msa"], "mmseqs", "version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == msa_cache.MMSEQS_PINNED


def test_msa_images_engine_has_the_data_pipeline_and_no_model(images):
    done = run_in_image(
        images["msa"],
        "/opt/alphafold-env/bin/python",
        "/t/engine_imports.py",
        mounts={IN_IMAGE: "/t:ro"},
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["alphafold.data.pipeline_multimer"] and found["alphafold.data.templates"]
    assert not found["jax"] and not found["openmm"] and not found["haiku"]
    assert found["python"].startswith("/opt/alphafold-env/")


def test_run_msa_in_its_image_under_the_toolkit(tmp_path, images, databases):
    job = TrainingJob(
        tmp_path / "msa-job",
        {
            "FastaFileName": "query.fasta",
            "DbPreset": "reduced_dbs",
            "ModelPreset": "monomer",
            "MaxTemplateDate": "2025-01-01",
            "MsaCacheS3URI": "",
        },
    )
    (job.channel("fasta") / "query.fasta").write_text((EXAMPLES / "xylanase.fasta").read_text())
    job.read_only_channel("databases", databases)
    done = job.run(images["msa"])
    assert done.returncode == 0, (job.root / "job.log").read_text()[-6000:]
    log = done.stdout + done.stderr
    assert (
        "sagemaker-training-toolkit INFO     Reporting training SUCCESS" in log
    )  # the toolkit ran it
    assert "Invoking script with the following command" in log and "foldline_msa.py" in log
    assert job.failure() is None

    manifest = job.manifest()
    assert manifest["status"] == "succeeded" and manifest["engine"] == "alphafold"
    assert manifest["engine_version"] == "alphafold-colabfold-2.3.20"
    assert manifest["command"][:2] == [
        "/opt/alphafold-env/bin/python",
        "/opt/foldline/run_data_pipeline.py",
    ]
    msas = job.model / "msas"
    assert sorted(p.name for p in msas.iterdir()) == [
        "mgnify_hits.sto",
        "pdb_hits.hhr",
        "small_bfd_hits.sto",
        "uniref90_hits.sto",
    ]
    # real searches: hundreds of homologues of the GH11 family in each database
    for name in ("uniref90_hits.sto", "mgnify_hits.sto", "small_bfd_hits.sto"):
        rows = {
            line.split()[0]
            for line in (msas / name).read_text().splitlines()
            if line and not line.startswith(("#", "//"))
        }
        assert len(rows) > 100, (name, len(rows))
    assert "6kwc_A" in (msas / "pdb_hits.hhr").read_text()  # HHsearch over the made pdb70
    with open(job.model / "features.pkl", "rb") as handle:
        features = pickle.load(handle)
    assert features["msa"].shape[1] == 188 and features["msa"].shape[0] > 300
    # templates featurized from the mmCIF files by AlphaFold's parser and Kalign, 6KWC (the
    # query's homologue, 62 % identical) among them: its bundled mmCIF is one AlphaFold reads
    hits = {
        line.split()[1]
        for line in (msas / "pdb_hits.hhr").read_text().splitlines()
        if re.match(r"^\s*\d+ \w{4}_\w", line)
    }
    featurized = {name.decode() for name in features["template_domain_names"]}
    assert featurized and featurized <= hits and "6kwc_A" in featurized
    timings = json.loads((job.model / "timings.json").read_text())
    assert timings["features"] > 0


def test_run_msa_with_the_pyhmmer_engine_in_the_msa_image(tmp_path, images, databases):
    """The stack's MsaEngine=pyhmmer reaches the job as FOLDLINE_MSA_ENGINE: the image runs it."""
    job = TrainingJob(
        tmp_path / "msa-job",
        {
            "FastaFileName": "query.fasta",
            "DbPreset": "reduced_dbs",
            "ModelPreset": "monomer",
            "MaxTemplateDate": "2025-01-01",
            "MsaCacheS3URI": "",
        },
    )
    (job.channel("fasta") / "query.fasta").write_text((EXAMPLES / "xylanase.fasta").read_text())
    job.read_only_channel("databases", databases)
    job.environment["FOLDLINE_MSA_ENGINE"] = "pyhmmer"
    done = job.run(images["msa"])
    assert done.returncode == 0, (job.root / "job.log").read_text()[-6000:]
    manifest = job.manifest()
    assert manifest["status"] == "succeeded" and manifest["engine"] == "pyhmmer"
    assert (job.model / "msas" / "uniref90_hits.sto").is_file()


def test_run_msa_with_the_mmseqs2_engine_in_the_msa_image(tmp_path, images, databases):
    """MsaEngine=mmseqs2 in the image: Debian's mmseqs over the read-only databases
    channel (its MMseqs2 databases made in the job's own cache), AlphaFold's layout."""
    job = TrainingJob(
        tmp_path / "msa-job",
        {
            "FastaFileName": "query.fasta",
            "DbPreset": "reduced_dbs",
            "ModelPreset": "monomer",
            "MaxTemplateDate": "2025-01-01",
            "MsaCacheS3URI": "",
        },
    )
    (job.channel("fasta") / "query.fasta").write_text((EXAMPLES / "xylanase.fasta").read_text())
    job.read_only_channel("databases", databases)
    job.environment["FOLDLINE_MSA_ENGINE"] = "mmseqs2"
    done = job.run(images["msa"])
    assert done.returncode == 0, (job.root / "job.log").read_text()[-6000:]
    manifest = job.manifest()
    assert manifest["status"] == "succeeded" and manifest["engine"] == "mmseqs2"
    assert manifest["engine_version"] == msa_cache.MMSEQS_PINNED
    for name in ("uniref90_hits.sto", "mgnify_hits.sto", "small_bfd_hits.sto", "pdb_hits.sto"):
        assert (job.model / "msas" / name).is_file(), name
