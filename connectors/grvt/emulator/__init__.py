"""A loopback emulator of the GRVT REST and WebSocket API.

Serves a ``SimVenue`` through GRVT's dialect, built on the emulation kit
(``connectors.emulation``: ``Routes``, ``SubscriptionHub``, ``AccountFanout``,
``sim_mid``). Runs inside ``EmulatorHarness``; one port serves the edge,
trade-data and market-data paths and ``/ws`` (``/ws/full`` for JSON-RPC)::

    creds = new_credentials()
    with grvt_emulator({creds.api_key: "alice"}, signers={creds.api_key: creds.address},
                       sub_accounts={creds.api_key: creds.sub_account_id}) as emu:
        emu.base_url   # http://127.0.0.1:PORT  (edge, trades and market-data hosts)
        emu.ws_url     # ws://127.0.0.1:PORT/ws

The package, along its seams:

* ``wire``    — the forms GRVT sends (as recorded; see its docstring), error envelope;
* ``state``   — users, sessions, markets, orders, fills, paged histories;
* ``tx``      — create_order checks and signature recovery, matching, cancels,
  the sim's account events as GRVT pushes, cancel-on-disconnect;
* ``feed``    — WebSockets: subscribe forms, gateway sequence numbers, feeds;
* ``rest``    — the REST routes;
* ``dialect`` — the assembly and ``grvt_emulator(...)``.

What it does where GRVT is not documented or recorded is in ``EMULATOR_NOTES``
(and docs/venues/grvt.md).
"""

from connectors.grvt.emulator.dialect import MAX_OPEN_ORDERS, GrvtDialect, grvt_emulator
from connectors.grvt.emulator.state import Credentials, new_credentials
from connectors.grvt.emulator.wire import GrvtErr, cookie_expiry

EMULATOR_NOTES = """\
- One port serves all three hosts: /auth/api_key/login, /full/v1/*, /ws and /ws/full.
- Sessions: cookie_ttl_s (default 24 h); expire_sessions() ends every session at once.
  A trade-data call without a live session or with the wrong X-Grvt-Account-Id: 401, 1000.
  An unknown API key at login: 401, 1000. A body naming another sub-account: 403, 1001.
- create_order answers PENDING with order_id "0x00" (as recorded); the order is matched
  on the next loop turn and its outcome (OPEN / FILLED / REJECTED FAIL_POST_ONLY /
  CANCELLED IOC_CANCEL ...) is pushed on v1.order. A second create with the same signer +
  nonce + payload returns the first order again (GRVT: such a duplicate is ignored).
- A client id already live: 2012, unless the harness books duplicate client ids; an
  order dropped by the sim (drop_next_order) is answered PENDING and then forgotten:
  no push, no record (order and order_history do not know it).
- order by client_order_id finds the newest order with that id, live or done.
- cancel_order of an order that is not live: 404, 1004. Cancel answers {"ack": true}.
- Signature: wrong chain id (recovers under another GRVT chain id): 1012; recovered
  address != signature.signer: 2002; signer not the API key's wallet: 2000;
  expiration in the past: 2001, more than 30 days ahead: 2008.
- Limits: min_notional (BTC, ETH: 20 unless given) -> 2066 (2067 reduce-only), checked
  with the limit price, a market order with the sim mid; more than max_open_orders
  (500) live orders: HTTP 429 with 2090.
- reject_next_order(reason): a numeric reason answers create_order with that code
  (status 400); any other reason rejects the order asynchronously with
  reject_reason = reason when it is a GRVT reject reason (else UNSPECIFIED).
- Injected HTTP faults answer with the error envelope: 429 -> code 1006 (+ Retry-After);
  5xx -> 1002. lose_next_answer("place") books the order, then loses the answer.
- WS sequence numbers: one gateway counter per stream + selector (shared by every
  subscriber, kept across resubscribes; public feeds start at the recorded 1061213,
  private ones at 0); the ack carries first_sequence_number (the next)
  and latest_sequence_number (the last sent) as strings; snapshots (book, mini, the
  last trades, positions) are 0/0; v1.book.s and v1.mini.s pushes are all snapshots.
  A skipped number (fault) moves the counter for everybody.
- Private streams need the cookie on the upgrade; a bad or expired cookie: 401 at the
  upgrade; a private subscribe on a connection without a session: error frame 1000.
- Cancel-on-disconnect: countdown_time ms; 0..1000 ends the countdown, up to 300000 re-arms
  it, more is 6000; when it runs out every live order of the sub-account is cancelled with
  CLIENT_CANCEL_ON_DISCONNECT_TRIGGERED. Checked on every sim step.
- Histories (order_history, fill_history): the last 100000 per account, newest first,
  limit (default 500, max 1000), an opaque `next` cursor while more is left ("" at the end).
- A liquidation (harness liquidate) is pushed on v1.fill with is_liquidation true,
  client_order_id "0" and order_id "0x00", and kept in fill_history.
- Fees: the sim's maker/taker fees; fee_rate in the fill is that rate.
"""

__all__ = [
    "EMULATOR_NOTES",
    "MAX_OPEN_ORDERS",
    "Credentials",
    "GrvtDialect",
    "GrvtErr",
    "cookie_expiry",
    "grvt_emulator",
    "new_credentials",
]
