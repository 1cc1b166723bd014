"""A loopback emulator of the Backpack Exchange REST and WebSocket API on a sim venue.

Split along its seams: ``wire`` (the venue's forms and errors), ``state`` (what
the venue remembers), ``auth`` (signatures), ``rest`` (the REST API), ``feed``
(the WebSocket side), ``events`` (sim account events -> private pushes) and
``dialect`` (the ``VenueDialect`` that wires them together).
"""

from connectors.backpack.emulator.dialect import BackpackDialect, backpack_emulator
from connectors.backpack.emulator.wire import BackpackError

__all__ = ["BackpackDialect", "BackpackError", "backpack_emulator"]
