"""One Logger and Metrics per function, created once (Powertools).

The service name comes from POWERTOOLS_SERVICE_NAME (set per function in template.yaml).
Tracer is created only by the analysis function: it imports the X-Ray SDK, which costs
0.2-0.35 s of every cold start; Lambda's active tracing (template.yaml) records the other
functions' invocations without it.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

NAMESPACE = "foldline"

logger = Logger(service="foldline", log_uncaught_exceptions=True)
metrics = Metrics(namespace=NAMESPACE, service="foldline")
