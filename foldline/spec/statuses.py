"""Status names, defined once: runs (the runs table), pipeline executions and their steps.

A run's status follows its pipeline execution's, with two of its own before and beside
it: ``Starting`` (claimed by the start function) and ``Rejected`` (bad input). Step
statuses are SageMaker's (DescribePipelineExecution / the step status-change events).

>>> sorted(FINAL_STATUSES)
['Failed', 'Rejected', 'Stopped', 'Succeeded']
>>> EXECUTING in ACTIVE_STEP_STATUSES
True
"""

STARTING = "Starting"
EXECUTING = "Executing"
STOPPING = "Stopping"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
STOPPED = "Stopped"
REJECTED = "Rejected"
#: an execution whose failed steps were allowed to fail (SageMaker's name)
COMPLETED_WITH_FAILURES = "CompletedWithFailures"

#: run statuses after which a run changes no more
FINAL_STATUSES = frozenset({SUCCEEDED, FAILED, STOPPED, REJECTED})
#: execution statuses that end a run: what the analysis and notify rules listen for
ENDED_STATUSES = (SUCCEEDED, FAILED, STOPPED)
#: step statuses after which a step changes no more
FINAL_STEP_STATUSES = frozenset({SUCCEEDED, FAILED, STOPPED})
#: step statuses of a step still under way
ACTIVE_STEP_STATUSES = frozenset({STARTING, EXECUTING})

#: a step program's own word, in its foldline-step.json, for a step it did not run
#: (OpenFold on a multimer)
STEP_SKIPPED = "skipped"
