"""The ``unattended:`` section: what a served core (``mmtui serve``) does with no
viewer attached (``mmtui.remote.unattended`` applies it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class UnattendedConfig(BaseModel):
    """What ``mmtui serve`` does when no viewer has been attached for a while."""

    model_config = ConfigDict(extra="forbid")

    policy: Literal["keep_running", "pause", "flatten"] = Field(
        default="keep_running",
        description="keep_running, pause (every running strategy), or flatten (everything)",
    )
    after_minutes: float = Field(
        default=30.0,
        gt=0,
        le=10_080,
        description="minutes with no viewer attached (the session's clock) before acting",
    )


__all__ = ["UnattendedConfig"]
