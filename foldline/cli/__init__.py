"""The edge: the ``foldline`` command. The app (:mod:`.app`) registers one module per
command; the stack options, errors and exit statuses they share are in :mod:`.common`, and
where the stack is (CloudFormation outputs, or the local cloud) in :mod:`.stack_config`.
Nothing inside the flow imports this package (import-linter); the Lambda layer does not
ship it.
"""
