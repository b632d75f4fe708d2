"""``python -m foldline``: the ``foldline`` command, where no script is on PATH."""

from foldline.cli.app import main

main()
