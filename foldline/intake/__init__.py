"""3. The start path: one uploaded FASTA in, one pipeline execution (or one rejection) out.

:mod:`.start` runs it: FASTA rules (:mod:`.fasta`), the run id (:mod:`.run_identity`),
what the run needs beyond its FASTA (:mod:`.plan`: MSA reuse, instance sizing in
:mod:`.sizing`, the stack's spend bounds in :mod:`.spend_limits`), and the concurrency
gate (:mod:`.concurrency`) before StartPipelineExecution.
"""
