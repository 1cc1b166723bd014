"""A config file's YAML, read with limits: what a hostile or mangled file gets is one line.

``read_yaml_file`` reads at most ``MAX_FILE_BYTES`` of a regular file (the parser
is pure Python, so that the limits below apply while it composes), decodes
it as UTF-8 and parses it with ``StrictLoader``, which refuses (with the line
and column) what ``yaml.safe_load`` accepts or chokes on:

- a key given twice in one mapping (``safe_load`` keeps the last silently: a
  second ``risk:`` block would replace the first);
- nesting deeper than ``MAX_DEPTH``, counted through aliases too (a 20,000-deep
  ``[[[...`` file otherwise ends in a ``RecursionError``);
- more than ``MAX_ALIASES`` aliases, a document that expands to more than
  ``MAX_NODES`` values, or an alias that contains itself (the 342-byte "billion
  laughs" bomb expands to 9^9 values; it is refused before anything walks it);
- a number that is not one we would trade on: more than ``MAX_DIGITS``
  characters, not finite, or beyond 1e±``MAX_EXPONENT`` — as a YAML number or as
  a string that reads as one (``"1e999990"``, a 5,000-digit value).

Every problem raises ``ConfigReadError`` whose message is one line without the
file name (the caller adds it).
"""

from __future__ import annotations

import math
import os
import re
import stat
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from connectors.common.units import MAX_DIGITS, MAX_EXPONENT

MAX_FILE_BYTES = 256 * 1024  # ~70 times the example
MAX_DEPTH = 32
MAX_ALIASES = 1000
MAX_NODES = 50_000  # values, aliases expanded (the example has ~150)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SHOWN = 40  # characters of a key or value quoted in a message
# A string that reads as a decimal number (what pydantic turns into a Decimal or float).
_NUMERIC = re.compile(r"\s*[+-]?(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?\s*")


class ConfigReadError(Exception):
    """The file cannot be read as a config: one line, without the file name."""


class LimitError(yaml.MarkedYAMLError):
    """Valid YAML this loader refuses (a duplicate key, a limit, a number out of bounds)."""


def _refuse(problem: str, mark: Any) -> LimitError:
    return LimitError(None, None, problem, mark)


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def number_problem(text: str) -> str | None:
    """Why ``text`` (a number's text) is not a number we accept, or None if it is."""
    digits = text.strip().replace("_", "")
    if len(digits) > MAX_DIGITS:
        return f"a number of {len(digits)} characters (at most {MAX_DIGITS})"
    try:
        value = Decimal(digits)
    except InvalidOperation:
        return None  # not a decimal number (hex, sexagesimal): the length bound is enough
    if not value.is_finite():
        return f"{digits!r} is not a finite number"
    if value and abs(value.adjusted()) > MAX_EXPONENT:
        return f"{digits!r} is out of range (1e-{MAX_EXPONENT} .. 1e{MAX_EXPONENT})"
    return None


def numeric_string_problem(text: str) -> str | None:
    """``number_problem`` for a string that reads as a decimal number; None for any other."""
    return number_problem(text) if _NUMERIC.fullmatch(text) else None


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with the limits of this module (one instance per document)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._nodes = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        event = self.peek_event()
        if self.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _refuse(f"more than {MAX_ALIASES} aliases", event.start_mark)
            return super().compose_node(parent, index)
        self._nodes += 1
        if self._nodes > MAX_NODES:  # stop early: the parser takes ~25 µs a value
            raise _refuse(f"more than {MAX_NODES} values", event.start_mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _refuse(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: str | None) -> MappingNode:  # type: ignore[override]
        node = super().compose_mapping_node(anchor)
        first: dict[tuple[str, str], Node] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                continue
            earlier = first.setdefault((key.tag, key.value), key)
            if earlier is not key:
                raise _refuse(
                    f"duplicate key {_shown(key.value)} (first at line "
                    f"{earlier.start_mark.line + 1}); a second one would replace the first",
                    key.start_mark,
                )
        return node

    def construct_bounded_number(self, node: ScalarNode) -> Any:
        problem = number_problem(node.value)
        if problem is not None:
            raise _refuse(problem, node.start_mark)
        if node.tag.endswith(":int"):
            return self.construct_yaml_int(node)
        value = self.construct_yaml_float(node)
        if not math.isfinite(value):  # 1.0e999 reads as inf
            raise _refuse(f"{node.value!r} is not a finite number", node.start_mark)
        return value

    def construct_bounded_str(self, node: ScalarNode) -> Any:
        value = self.construct_yaml_str(node)
        problem = numeric_string_problem(value) if isinstance(value, str) else None
        if problem is not None:
            raise _refuse(problem, node.start_mark)
        return value


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_bounded_number)
StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_bounded_number)
StrictLoader.add_constructor("tag:yaml.org,2002:str", StrictLoader.construct_bounded_str)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root: Node) -> None:
    """Refuse a document whose aliases expand past ``MAX_NODES`` values or ``MAX_DEPTH``
    levels, or that contains itself; counted on the composed graph, never expanded."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    kids: dict[int, list[Node]] = {id(root): _children(root)}
    stack: list[tuple[Node, int]] = [(root, 0)]
    open_ids = {id(root)}
    while stack:
        node, i = stack[-1]
        children = kids[id(node)]
        if i < len(children):
            stack[-1] = (node, i + 1)
            child = children[i]
            if id(child) in size:
                continue
            if id(child) in open_ids:
                raise _refuse("an alias that contains itself", child.start_mark)
            open_ids.add(id(child))
            kids[id(child)] = _children(child)
            stack.append((child, 0))
            continue
        stack.pop()
        open_ids.discard(id(node))
        size[id(node)] = 1 + sum(size[id(c)] for c in children)
        depth[id(node)] = 1 + max((depth[id(c)] for c in children), default=0)
        if size[id(node)] > MAX_NODES:
            raise _refuse(f"more than {MAX_NODES} values (aliases expanded)", node.start_mark)
        if depth[id(node)] > MAX_DEPTH:
            raise _refuse(
                f"nested deeper than {MAX_DEPTH} levels (through aliases)",
                node.start_mark,
            )


def first_non_finite(node: Any, path: str = "") -> str | None:
    """The dotted key of the first float in a validated model that is inf or nan (a
    string such as "inf" read into a float field: YAML's own .inf is refused above)."""
    if isinstance(node, float):
        return None if math.isfinite(node) else path
    items: Any = ()
    if isinstance(node, BaseModel):
        items = ((name, getattr(node, name)) for name in type(node).model_fields)
    elif isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list | tuple):
        items = enumerate(node)
    for key, value in items:
        found = first_non_finite(value, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _describe(exc: yaml.YAMLError, text: str) -> str:
    if isinstance(exc, yaml.reader.ReaderError):  # a control character (NUL, ...)
        before = text[: exc.position]
        line, column = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        return f"line {line}, column {column}: character #x{exc.character:04x} is not allowed"
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if isinstance(exc, LimitError):
        return f"{_where(mark)}{problem}"
    context = getattr(exc, "context", None)
    return f"{_where(mark)}invalid YAML: {problem}" + (f" ({context})" if context else "")


def parse_yaml(text: str) -> Any:
    """One YAML document parsed with the limits above; ``ConfigReadError`` otherwise."""
    loader: StrictLoader | None = None
    try:
        loader = StrictLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigReadError(_describe(exc, text)) from None
    finally:
        if loader is not None:
            loader.dispose()


def read_yaml_file(path: Path) -> Any:
    """The parsed YAML of ``path`` (None for an empty document)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ConfigReadError("file not found") from None
    except OSError as exc:
        raise ConfigReadError(f"cannot read ({exc.strerror})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigReadError("is a directory, not a config file")
        if not stat.S_ISREG(mode):
            raise ConfigReadError("is not a regular file")
        data = b""
        while len(data) <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise ConfigReadError(f"cannot read ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise ConfigReadError(f"larger than {MAX_FILE_BYTES // 1024} KiB; not a config file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1
        raise ConfigReadError(
            f"line {line}, column {column}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from None
    return parse_yaml(text)
