"""One Logger, Tracer and Metrics per function, created once (Powertools).

The service name comes from POWERTOOLS_SERVICE_NAME (set per function in template.yaml).
Tracer is created lazily by the handlers that want it: it imports the X-Ray SDK, which
costs about 0.18 s of every cold start.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

NAMESPACE = "foldline"

logger = Logger(service="foldline", log_uncaught_exceptions=True)
metrics = Metrics(namespace=NAMESPACE, service="foldline")
