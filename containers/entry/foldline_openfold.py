"""SageMaker training entry point (SAGEMAKER_PROGRAM): the openfold step program, nothing else.

The training toolkit runs this file with the hyperparameters as arguments; the step
reads everything from the SM_* environment instead (see foldline.steps.contract).
"""

from foldline.steps.openfold import main

raise SystemExit(main())
