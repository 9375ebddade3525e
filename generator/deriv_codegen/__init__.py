"""Build step: pinned upstream API bundles -> intermediate representation -> typed Python clients.

The pipeline is ``sources`` (pins) -> ``fetch`` (cache, mirrors, download) -> ``readers`` (bundle -> IR)
-> ``models`` / ``render`` (IR -> generated package). ``cli`` ties them together.
Nothing here runs at import time; heavy dependencies load only when a step needs them.
"""

# One version for the project: the runtime's (both distributions are released together; the
# generated packages require a runtime of this release line, see render.runtime_requirement).
from deriv_runtime import __version__

__all__ = ["__version__"]
