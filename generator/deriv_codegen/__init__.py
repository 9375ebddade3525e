"""Build step: pinned upstream API bundles -> intermediate representation -> typed Python clients.

The pipeline is ``sources`` (pins) -> ``fetch`` (cache, mirrors, download) -> ``readers`` (bundle -> IR)
-> ``models`` / ``render`` (IR -> generated package). ``cli`` ties them together.
Nothing here runs at import time; heavy dependencies load only when a step needs them.
"""

__version__ = "0.1.0"
