"""The views' actions on the app (mixed into ``MMApp``): each key opens its view
as a screen over the main one; q or Esc closes it."""

from __future__ import annotations

from mmtui.views.account import AccountScreen
from mmtui.views.base import ViewScreen
from mmtui.views.depth import DepthScreen
from mmtui.views.fills import FillsScreen
from mmtui.views.health import HealthScreen
from mmtui.views.params import ParamsScreen
from mmtui.views.pnl_chart import PnlScreen

VIEWS: dict[str, type[ViewScreen]] = {
    "fills": FillsScreen,
    "account": AccountScreen,
    "pnl": PnlScreen,
    "health": HealthScreen,
    "depth": DepthScreen,
    "params": ParamsScreen,
}


class ViewActions:
    """``action_view(name)``: open one of ``VIEWS`` (replacing an open view)."""

    def action_view(self, name: str) -> None:
        app = self  # the MMApp this is mixed into
        screen_cls = VIEWS[name]
        current = app.screen  # type: ignore[attr-defined]
        if isinstance(current, screen_cls):
            return
        if isinstance(current, ViewScreen):
            app.pop_screen()  # type: ignore[attr-defined]
        app.push_screen(screen_cls(app))  # type: ignore[attr-defined, arg-type]


__all__ = ["VIEWS", "ViewActions"]
