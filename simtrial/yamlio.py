"""Safe YAML loading that remembers where every field came from.

Scenario and evidence files are read with a :class:`yaml.SafeLoader` subclass: nothing in a file
is ever executed (a ``!!python/object`` tag is an error), duplicate keys are errors, and every
mapping key and sequence item is mapped to its 1-based line so validation errors can name it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from simtrial.errors import ScenarioError

Loc = tuple[str | int, ...]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader recording ``{location tuple: line}`` for every key and item."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.lines: dict[Loc, int] = {}


def _walk(loader: _LineLoader, node: yaml.Node, loc: Loc) -> None:
    loader.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ScenarioError(
                    f"duplicate key {key!r} (first given on line {seen[key]})",
                    line=line,
                    path=format_loc(loc + (key,)),
                )
            seen[key] = line
            loader.lines[loc + (key,)] = line
            _walk(loader, value_node, loc + (key,))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            loader.lines[loc + (i,)] = item.start_mark.line + 1
            _walk(loader, item, loc + (i,))


def format_loc(loc: Loc) -> str:
    """Format a location tuple as a field path: ``('arms', 'msc', 'x', 2)`` → ``arms.msc.x[2]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def load_yaml(path: str | Path) -> tuple[Any, dict[Loc, int]]:
    """Load one YAML document safely.

    Returns
    -------
    data : object
        The plain Python data (dicts, lists, scalars).
    lines : dict
        Location tuple → 1-based line number.

    Raises
    ------
    ScenarioError
        The file is missing, is not valid YAML, uses a tag that would build an object, or repeats
        a key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read file: {exc.strerror}", file=str(path)) from None
    except UnicodeDecodeError:
        raise ScenarioError("file is not UTF-8 text", file=str(path)) from None
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ScenarioError("file is empty; expected a mapping of fields", file=str(path))
        _walk(loader, node, ())
        data = loader.construct_document(node)
    except ScenarioError as exc:
        exc.file = str(path)
        raise
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise ScenarioError(
            f"{exc.problem}; only plain YAML (mappings, lists, numbers, strings) is allowed",
            file=str(path),
            line=mark.line + 1 if mark else None,
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ScenarioError(
            f"YAML syntax error: {exc.problem or exc.context}",
            file=str(path),
            line=mark.line + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"YAML error: {exc}", file=str(path)) from None
    finally:
        loader.dispose()
    return data, loader.lines


def line_for(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    """The line of ``loc`` or of its nearest ancestor that has one."""
    loc = tuple(loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())
