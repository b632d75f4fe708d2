"""2. What arrives: AWS events as small records. S3 "Object Created" (direct or through SQS)
as uploads (:mod:`.s3`), SageMaker Pipelines status changes (:mod:`.pipeline`), and the
Powertools logger and metrics every handler uses (:mod:`.observability`).
"""
