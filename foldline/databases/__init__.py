"""0. Before any run: the genetic databases a stack serves. What each preset needs and the
records that say it is ready (:mod:`.presets`), the setup job as SageMaker runs it
(:mod:`.setup_job`) and the program it runs in the MSA image (:mod:`.download`,
``python3 -m foldline.databases.download``).
"""
