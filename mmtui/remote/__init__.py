"""The core behind a local socket: ``mmtui serve`` (server), ``mmtui attach``
(client), the wire between them (codec, framing) and the unattended policy."""
