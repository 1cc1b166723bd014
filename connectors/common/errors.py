"""The one list of error codes every connector speaks, and the errors that carry them.

A venue has its own codes (Backpack ``INVALID_CLIENT_REQUEST``, GRVT ``2066``,
Lighter ``21712``); a connector maps each to an ``ErrorCode`` the core can act on
and keeps the venue's own in ``VenueError.venue_code`` for the log.

Three flags tell the core what a failed request means:

* ``retryable``: sending the same request again may succeed (429, 5xx, network);
* ``outcome_unknown``: the request may have taken effect at the venue (a timeout
  or 5xx after it was sent, a connection lost mid-answer). The core never resends
  a place with an unknown outcome: it looks the order up by client id instead;
* a ``RateLimited`` error also carries the venue's ``retry_after`` in seconds.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    # the request was not taken; retrying the same request is safe
    RATE_LIMITED = "rate_limited"
    NETWORK = "network"
    """No connection (refused, DNS, reset before sending)."""
    NOT_CONNECTED = "not_connected"
    # the request may or may not have taken effect
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    UNKNOWN_OUTCOME = "unknown_outcome"
    # the venue refused the request
    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    """An order with this client id is already live (an earlier try landed)."""
    INVALID_SIZE = "invalid_size"
    """Size off the step grid, non-positive, or below the minimum."""
    INVALID_PRICE = "invalid_price"
    MIN_NOTIONAL = "min_notional"
    INVALID_ORDER = "invalid_order"
    """Any other refusal of an order's terms (post-only would cross, reduce-only
    would not reduce, bad time in force, ...)."""
    INVALID_CLIENT_ID = "invalid_client_id"
    INSUFFICIENT_MARGIN = "insufficient_margin"
    TOO_MANY_ORDERS = "too_many_orders"
    """The venue's cap on open orders (not a rate limit: waiting does not help)."""
    UNKNOWN_SYMBOL = "unknown_symbol"
    NOT_FOUND = "not_found"
    """The order (or other resource) is not known to the venue."""
    # credentials and session
    AUTH = "auth"
    NO_KEYS = "no_keys"
    BAD_KEY = "bad_key"
    # what came back could not be read
    BAD_ANSWER = "bad_answer"
    # connector-level
    WS_CONNECT = "ws_connect"
    NO_PRICE = "no_price"
    """A market order needs a reference price and the book has none."""
    VENUE = "venue"
    """A refusal the connector has no better code for (see ``venue_code``)."""


class VenueError(Exception):
    """A venue refused or failed a request.

    ``code`` is an ``ErrorCode`` (a plain string compares equal to it);
    ``venue_code`` is the venue's own code or status, for the log.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = ErrorCode.VENUE,
        retryable: bool = False,
        outcome_unknown: bool = False,
        venue_code: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.outcome_unknown = outcome_unknown
        self.venue_code = venue_code


class RateLimited(VenueError):
    """HTTP 429 or the venue's equivalent; ``retry_after`` in seconds when known."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, venue_code: str = ""
    ) -> None:
        super().__init__(
            message, code=ErrorCode.RATE_LIMITED, retryable=True, venue_code=venue_code
        )
        self.retry_after = retry_after


DUPLICATE_CLIENT_ID = ErrorCode.DUPLICATE_CLIENT_ID
"""Kept for callers that import the constant."""

__all__ = ["DUPLICATE_CLIENT_ID", "ErrorCode", "RateLimited", "VenueError"]
