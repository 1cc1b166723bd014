"""A loopback emulator of Lighter's REST API and ``/stream`` WebSocket.

Serves a ``SimVenue`` through Lighter's dialect inside ``connectors.emulation.EmulatorHarness``,
so the real lighter-sdk 1.1.8 (``SignerClient``, ``ApiClient``) and our connector can talk
to it, speaking the forms the real venue sends (recorded payloads in
tests/fixtures/venues/lighter/)::

    key = LighterKey(account_index=4242, api_key_index=3, public_key=pub_hex)
    with lighter_emulator([key]) as emu:
        emu.base_url                 # http://127.0.0.1:PORT (SignerClient url / ApiClient host)
        emu.ws_url                   # ws://127.0.0.1:PORT/stream
        emu.faults.reject_next_order("4242:3")
        emu.faults.lose_next_answer("sendTx")
        emu.call(lambda: emu.dialect.expire_tokens())

Markets: the sim's ``BTC-PERP`` is ``BTC``; market ids ETH=0, BTC=1, SOL=2 as on the venue,
any other base asset gets the smallest free id. Every price/size string is written with
exactly the market's decimals.

What is modelled, from which source, and what is a guess: docs/venues/lighter.md.
Every tx ``Sig`` and auth token is verified against the key registered for its account and
API key index (``signatures``, on ``connectors.lighter.schnorr``): another key's or a
tampered tx is refused with 21120 "invalid signature".
"""

from connectors.lighter.emulator.dialect import LighterDialect, lighter_emulator
from connectors.lighter.emulator.sequencer import TX_ROUTE
from connectors.lighter.emulator.state import LighterEmulatorStats, LighterKey

__all__ = ["TX_ROUTE", "LighterDialect", "LighterEmulatorStats", "LighterKey", "lighter_emulator"]
