"""The ``foldline`` command's sub-commands, one module each (registered in foldline.cli.app)."""
