"""Lighter (zk perp DEX): connector on lighter-sdk's SignerClient + own REST reads and WS."""
