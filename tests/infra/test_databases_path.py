"""The genetic databases' path, defined once (foldline.spec.layout): the same in the
template (the FSx association, the output, the pipeline's mount) and in the docs."""

from __future__ import annotations

import re

from foldline.spec import layout
from tests.infra.conftest import ROOT


def test_the_databases_path_is_the_layouts_in_template_job_and_docs(template):
    resources = template["Resources"]
    assert template["Parameters"]["FsxDatabasesPath"]["Default"] == layout.DATABASES_FSX_PATH
    association = resources["DatabasesAssociation"]["Properties"]
    assert association["DataRepositoryPath"] == {
        "Fn::Sub": "s3://${FoldlineBucket}/" + layout.DATABASES
    }
    assert association["FileSystemPath"] == {
        "Fn::If": ["DatabasesAtRoot", "/", {"Ref": "FsxDatabasesPath"}]
    }
    assert template["Outputs"]["DatabasesS3Uri"]["Value"] == {
        "Fn::Sub": "s3://${FoldlineBucket}/" + layout.DATABASES
    }
    # the jobs mount /<mount name><FsxDatabasesPath>: the folder the association fills
    sub = resources["FoldPipeline"]["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"][
        "Fn::Sub"
    ][1]
    assert sub["DatabasesDirectoryPath"]["Fn::Sub"][0] == "/${MountName}${FsxDatabasesPath}"
    assert not (ROOT / "containers" / "fsx.yaml").exists()  # no second template with its own path
    for doc in ("docs/deployment.md", "containers/README.md"):
        text = (ROOT / doc).read_text()
        spelled = set(re.findall(r"[\w./<>-]*alphafold[-_]databases[\w./-]*", text))
        assert spelled, doc
        for form in spelled:  # the S3 prefix or the file system's folder, nothing else
            assert (
                form.endswith((layout.DATABASES, layout.DATABASES_FSX_PATH))
                or layout.DATABASES in form
            ), (doc, form)
