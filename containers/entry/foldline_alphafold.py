"""SageMaker training entry point (SAGEMAKER_PROGRAM): the alphafold step program, nothing else.

The training toolkit runs this file with the hyperparameters as arguments; the step
reads everything from the SM_* environment instead (see foldline.steps.contract).
"""

from foldline.steps.alphafold import main

raise SystemExit(main())
