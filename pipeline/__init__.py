"""The ``ProteinFoldWorkflow`` SageMaker Pipeline: its definition, rendering and the copy in template.yaml.

``pipeline.definition`` and ``pipeline.render`` need the sagemaker SDK (3.x), which lives in
its own virtualenv (``.venv-sdk``), never in a Lambda. ``pipeline.embedded`` reads the
rendered definition back out of ``template.yaml`` with the standard library and PyYAML
only, so the tests and the local mode never import the SDK.
"""
