"""A DataTable updated by row key: rows are added, changed cell by cell, or
removed — never rebuilt — so the cursor and scroll stay where they are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text


class KeyedTable(DataTable[Cell]):
    COLUMNS: Sequence[tuple[str, str]] = ()
    """(column key, label) pairs."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for key, label in self.COLUMNS:
            self.add_column(label, key=key)
        self._cells: dict[str, tuple[Cell, ...]] = {}

    def sync(self, rows: Mapping[str, Sequence[Cell]]) -> None:
        keys = [k for k, _ in self.COLUMNS]
        for gone in set(self._cells) - set(rows):
            self.remove_row(gone)
            del self._cells[gone]
        for row_key, cells in rows.items():
            cells = tuple(cells)
            old = self._cells.get(row_key)
            if old is None:
                self.add_row(*cells, key=row_key)
            elif old != cells:
                for col, (before, after) in enumerate(zip(old, cells, strict=True)):
                    if before != after:
                        self.update_cell(row_key, keys[col], after)
            self._cells[row_key] = cells

    def selected_key(self) -> str | None:
        if not self._cells or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key((self.cursor_row, 0))
        return row_key.value
