"""Account per venue: collateral, margin, leverage; per market its position,
leverage, liquidation price, funding rate with the countdown to the next
settlement, and the funding settled on us."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from mmtui.core.venue_views import AccountView
from mmtui.views.base import ViewScreen, clock_time, countdown, fmt
from mmtui.widgets.pane import Pane

PAYMENTS_SHOWN = 5


class AccountScreen(ViewScreen):
    TITLE = "Account per venue (q/Esc closes)"

    def compose(self) -> ComposeResult:
        yield self.compose_title()
        yield self.body(Pane(id="account-body"))
        yield self.compose_footer()

    def refresh_view(self) -> None:
        now = self.view.header().now_ms
        self.query_one("#account-body", Pane).show(render_accounts(self.view.accounts(), now))


def render_accounts(accounts: tuple[AccountView, ...], now_ms: int) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if not accounts:
        text.append("no venues", style="dim")
    for i, view in enumerate(accounts):
        if i:
            text.append("\n")
        _venue(text, view, now_ms)
    return text


def _venue(text: Text, view: AccountView, now_ms: int) -> None:
    text.append(f"{view.venue}\n", style="bold")
    state = view.account
    if not view.supported:
        text.append("  this venue's connector does not read the account\n", style="dim")
    elif state is None:
        text.append(
            f"  not read yet{': ' + view.error if view.error else ''}\n",
            style="yellow" if view.error else "dim",
        )
    else:
        if view.error:
            text.append(f"  last reading failed: {view.error}\n", style="yellow")
        for b in state.balances:
            text.append(f"  {b.asset} total {fmt(b.total)}  available {fmt(b.available)}\n")
        text.append(
            f"  equity {fmt(state.equity)}  margin used {fmt(state.margin_used)}  "
            f"free {fmt(state.available)}  leverage {fmt(state.leverage, 3)}x\n"
        )
        text.append(
            f"  {'market':<10} {'position':>10} {'lev':>7} {'liq price':>11} "
            f"{'funding/int':>11} {'next in':>8} {'funding got':>11}\n",
            style="dim",
        )
        for m in state.markets:
            rate = f"{m.funding_rate * 100:.4f}%" if m.funding_rate is not None else "-"
            until = m.next_funding_ms - now_ms if m.next_funding_ms is not None else None
            text.append(
                f"  {m.symbol:<10} {m.position_size:>+10} {fmt(m.leverage, 3):>7} "
                f"{fmt(m.liquidation_price):>11} {rate:>11} {countdown(until):>8} "
                f"{fmt(m.funding, 4, sign=True):>11}\n"
            )
    if view.funding:
        total = ", ".join(f"{s} {fmt(a, 4, sign=True)}" for s, a in view.funding)
        text.append(f"  funding this session: {total}\n")
    for p in view.payments[-PAYMENTS_SHOWN:]:
        verb = "got" if p.amount >= 0 else "paid"
        text.append(
            f"  {clock_time(p.ts_ms)} {p.symbol} {verb} {fmt(abs(p.amount), 4)} "
            f"at {p.rate * 100:.4f}% on {p.position_size:+}\n",
            style="dim",
        )


__all__ = ["AccountScreen", "render_accounts"]
