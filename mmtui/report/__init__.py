"""A run's report: per strategy and in total, PnL, fills, inventory, drawdown, quote
uptime, fill ratio and order counts (``metrics``), from the journal and the samples
(``collect``, ``sampler``); written as ``report.json``, ``run.json`` and a chart
(``output``, ``chart``). ``write_report`` does all of it for a finished session."""

from mmtui.report.collect import ReportError
from mmtui.report.sampler import Sampler
from mmtui.report.write import write_report

__all__ = ["ReportError", "Sampler", "write_report"]
