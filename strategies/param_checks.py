"""Checks that a strategy's parameters agree with each other, each with one
wording: the one-line error a config with them gets (raised inside a params
model's validator, so pydantic reports it with the model's other errors)."""

from __future__ import annotations

from decimal import Decimal


def require_at_most(
    name: str, value: float | Decimal, limit_name: str, limit: float | Decimal
) -> None:
    """``name`` may not exceed ``limit_name``."""
    if value > limit:
        raise ValueError(f"{name} ({value}) must not exceed {limit_name} ({limit})")


def require_room_for_an_entry(cap_name: str, cap: Decimal | None, quantity_base: Decimal) -> None:
    """A position cap (``cap_name``, None: none) below one entry's size would let
    no entry ever rest."""
    if cap is not None and cap < quantity_base:
        raise ValueError(
            f"{cap_name} ({cap}) is below quantity_base ({quantity_base}): "
            "no entry could ever be placed"
        )


__all__ = ["require_at_most", "require_room_for_an_entry"]
