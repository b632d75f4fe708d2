"""The edge: the whole cloud on one machine (``foldline local``). moto's server plays the
AWS services, the stack comes from template.yaml (:mod:`.template`, :mod:`.cloud`), the
functions' real handlers run on the events (:mod:`.dispatcher`, :mod:`.lambda_runtime`),
and the pipeline's real step programs run under SageMaker's training contract
(:mod:`.executor`, :mod:`.training`). Nothing inside the flow imports this package
(import-linter); the Lambda layer does not ship it.
"""
