"""Console themes and the stylesheet (``app.tcss``)."""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

STYLESHEET = Path(__file__).with_name("app.tcss")

DARK = Theme(
    name="mmtui-dark",
    primary="#4EA8DE",
    secondary="#5E60CE",
    accent="#F4A261",
    warning="#E9C46A",
    error="#E63946",
    success="#2A9D8F",
    foreground="#D8DEE9",
    background="#11151C",
    surface="#1A1F29",
    panel="#232A36",
    dark=True,
)

LIGHT = Theme(
    name="mmtui-light",
    primary="#1D4E89",
    secondary="#5E60CE",
    accent="#B35C00",
    warning="#9A6700",
    error="#B42318",
    success="#1A7F37",
    foreground="#1F2328",
    background="#F6F8FA",
    surface="#FFFFFF",
    panel="#E7ECF2",
    dark=False,
)

HIGH_CONTRAST = Theme(
    name="mmtui-contrast",
    primary="#FFFF00",
    secondary="#00FFFF",
    accent="#FF00FF",
    warning="#FFFF00",
    error="#FF0000",
    success="#00FF00",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#000000",
    dark=True,
)

THEMES = (DARK, LIGHT, HIGH_CONTRAST)
