"""A DataTable updated by row key: rows are added, changed cell by cell, or
removed — never rebuilt — so the cursor and scroll stay where they are.

Cheap to paint at 10 Hz: a change clears the DataTable's render caches (every
entry in them is keyed by the table's update count, so after a change they only
held garbage, up to 10,000 cells each); the widget's style is computed once per
paint, not once per line (``rich_style`` walks the DOM); a changed cell does not
re-measure the table (``_fit_columns`` sizes the columns).

A table declares all its columns and, optionally, the few that matter most
(``NARROW``): on a narrow terminal only those are shown, one space apart
instead of two, so nothing is cut mid-number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

Cell = str | Text


class KeyedTable(DataTable[Cell]):
    COLUMNS: Sequence[tuple[str, str]] = ()
    """(column key, label) pairs, in display order."""
    NARROW: Sequence[str] = ()
    """Column keys kept on a narrow terminal (empty: keep all)."""

    _frame_style: Style | None = None
    """The widget's style while a paint runs (``render_lines``), else None."""

    @property
    def rich_style(self) -> Style:
        frame = self._frame_style
        return frame if frame is not None else super().rich_style

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame_style = None
        self._frame_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self._narrow = False
        self._cells: dict[str, tuple[Cell, ...]] = {}
        self._shown: list[int] = []
        self._build_columns()

    def set_narrow(self, narrow: bool) -> None:
        narrow = narrow and bool(self.NARROW)
        if narrow != self._narrow:
            self._narrow = narrow
            self.clear(columns=True)
            self._cells.clear()
            self._build_columns()

    def _build_columns(self) -> None:
        keep = set(self.NARROW) if self._narrow else None
        self._shown = [i for i, (k, _) in enumerate(self.COLUMNS) if keep is None or k in keep]
        self.cell_padding = 0 if self._narrow else 1
        for i in self._shown:
            key, label = self.COLUMNS[i]
            self.add_column(self._pad(label), key=key)

    def _pad(self, cell: Cell) -> Cell:
        """Narrow: no padding, one space after each cell (columns one space apart)."""
        if not self._narrow:
            return cell
        return cell + " " if isinstance(cell, str) else Text.assemble(cell, " ")

    def _row_cells(self, all_cells: Sequence[Cell]) -> tuple[Cell, ...]:
        return tuple(self._pad(all_cells[i]) for i in self._shown)

    def sync(self, rows: Mapping[str, Sequence[Cell]]) -> None:
        """``rows``: row key -> one cell per entry of ``COLUMNS``, in display order.
        A row that appears anywhere but at the end (a second venue's row before the
        NET row) rebuilds the rows in order; else rows change in place."""
        keys = [self.COLUMNS[i][0] for i in self._shown]
        changed = False
        for gone in set(self._cells) - set(rows):
            self.remove_row(gone)
            del self._cells[gone]
            changed = True
        kept = [k for k in rows if k in self._cells]
        if kept != list(self._cells)[: len(kept)] or kept != list(rows)[: len(kept)]:
            selected = self.selected_key()
            self.clear()
            self._cells.clear()
            for row_key, all_cells in rows.items():
                cells = self._row_cells(all_cells)
                self.add_row(*cells, key=row_key)
                self._cells[row_key] = cells
            if selected in self._cells:
                self.move_cursor(row=list(self._cells).index(selected))
            self._fit_columns()
            return
        for row_key, all_cells in rows.items():
            cells = self._row_cells(all_cells)
            old = self._cells.get(row_key)
            if old is None:
                self.add_row(*cells, key=row_key)
                changed = True
            elif old != cells:
                changed = True
                for col, (before, after) in enumerate(zip(old, cells, strict=True)):
                    if before != after:
                        self.update_cell(row_key, keys[col], after)
            self._cells[row_key] = cells
        if changed:  # nothing to measure on a render that changed nothing (10 Hz)
            self._clear_caches()  # every entry is of an earlier update count: garbage
            self._fit_columns()

    def _fit_columns(self) -> None:
        """Each column as wide as what it shows now (a DataTable only ever widens its
        columns: a state once 'running' would keep the width after 'paused'). Only
        from what is shown, never from earlier renders: how many renders there were
        depends on wall time, and the snapshots must not."""
        for n, i in enumerate(self._shown):
            column = self.columns.get(ColumnKey(self.COLUMNS[i][0]))
            if column is None or not column.auto_width:
                continue
            width = max(
                [column.label.cell_len, *(_width(cells[n]) for cells in self._cells.values())]
            )
            if width != column.content_width:
                column.content_width = width
                self._require_update_dimensions = True
                self.refresh()

    def selected_key(self) -> str | None:
        if not self._cells or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key((self.cursor_row, 0))
        return row_key.value


def _width(cell: Cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)
