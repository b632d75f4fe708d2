"""SageMaker training entry point (SAGEMAKER_PROGRAM): the msa step program, nothing else.

The training toolkit runs this file with the hyperparameters as arguments; the step
reads everything from the SM_* environment instead (see foldline.steps.contract).
"""

from foldline.steps.msa import main

raise SystemExit(main())
