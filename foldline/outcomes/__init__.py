"""6. The ends of a run. A Succeeded execution: the analysis, report, Experiments record
and notice (:mod:`.succeeded`); a Failed or Stopped one: the notice of which step failed
and why (:mod:`.failed`); each step's status into the runs table (:mod:`.progress`). With
what they share: the steps' outputs in S3 (:mod:`.step_outputs`), the notices
(:mod:`.notices`), experiment tracking (:mod:`.tracking`), and AlphaFold against OpenFold
across runs (:mod:`.across_runs`, for ``foldline compare``).
"""
