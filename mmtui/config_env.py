"""``MMTUI_*`` environment variables over the config file's values.

``MMTUI_RISK__MAX_LOSS=200`` sets ``risk.max_loss``; ``MMTUI_STRATEGIES__0__PARAMS__GAMMA=0.05``
reaches into lists. Values are read as YAML scalars. ``config.load_config`` applies them
to the file's raw mapping before validation and names the variable in any error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmtui.config_reader import ConfigReadError, numeric_string_problem, parse_yaml

ENV_PREFIX = "MMTUI_"
RESERVED_ENV = {"MMTUI_CONFIG", "MMTUI_LOG_LEVEL", "MMTUI_LOG_DIR"}


class EnvOverrideError(ValueError):
    """A variable that cannot be applied: its name and what is wrong, one line."""


def apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Apply MMTUI_* overrides in place; returns dotted key -> variable name."""
    applied: dict[str, str] = {}
    for var in sorted(env):
        if not var.startswith(ENV_PREFIX) or var in RESERVED_ENV:
            continue
        parts = [p.lower() for p in var[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        problem = numeric_string_problem(env[var])
        if problem is not None:
            raise EnvOverrideError(f"{var}: {problem}")
        try:
            value = parse_yaml(env[var])
        except ConfigReadError:
            value = env[var]
        node: Any = raw
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    at = ".".join(parts[:i])
                    raise EnvOverrideError(f"{var}: no list item {part!r} at '{at}'")
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    if not isinstance(node.get(part), dict | list):
                        node[part] = {}
                    node = node[part]
            else:
                raise EnvOverrideError(f"{var}: '{'.'.join(parts[:i])}' is not a section")
        applied[".".join(parts)] = var
    return applied


__all__ = ["ENV_PREFIX", "RESERVED_ENV", "EnvOverrideError", "apply_env"]
