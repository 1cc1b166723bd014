"""GRVT: the real connector (REST through grvt-pysdk's ``GrvtRawAsync``, EIP-712
order signing, WebSocket feeds) and a loopback emulator of its API."""
