"""Where the local mode keeps things by default.

Kept apart from :mod:`foldline.local.runtime` (which imports moto) so the ``foldline``
command can show these as option defaults without importing the local cloud.
"""

from __future__ import annotations

from pathlib import Path

#: the work folder of ``foldline local`` (state, jobs, outbox), relative to the cwd
DEFAULT_WORKDIR = Path("foldline-local")
#: the bundled demo databases (AlphaFold's download layout), in a checkout
DEFAULT_DATABASES = Path(__file__).resolve().parents[2] / "examples" / "databases"
