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
#: an analysis that raised and waits for its retry (the run's ``analysis_status``, beside
#: SUCCEEDED and FAILED)
RETRYING = "Retrying"
#: an execution whose failed steps were allowed to fail (SageMaker's name)
COMPLETED_WITH_FAILURES = "CompletedWithFailures"

#: run statuses after which a run changes no more
FINAL_STATUSES = frozenset({SUCCEEDED, FAILED, STOPPED, REJECTED})
#: execution statuses that end a run: what the analysis and notify rules listen for
ENDED_STATUSES = (SUCCEEDED, FAILED, STOPPED)
#: step statuses after which a step changes no more
FINAL_STEP_STATUSES = frozenset({SUCCEEDED, FAILED, STOPPED})
#: execution statuses that hold a slot (and count against SageMaker's quota)
ACTIVE_EXECUTION_STATUSES = frozenset({EXECUTING, STOPPING})
#: step statuses of a step still under way
ACTIVE_STEP_STATUSES = frozenset({STARTING, EXECUTING})

#: a SageMaker job's (training, processing) status once it has ended well; the others that
#: end one are FAILED and STOPPED
JOB_COMPLETED = "Completed"
#: job statuses after which a training or processing job changes no more
JOB_ENDED_STATUSES = (JOB_COMPLETED, FAILED, STOPPED)

#: a step program's own word, in its foldline-step.json, for a step it did not run
#: (OpenFold on a multimer)
STEP_SKIPPED = "skipped"
