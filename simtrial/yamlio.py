"""Safe YAML loading that remembers where every field came from.

Scenario and evidence files are read with a :class:`yaml.SafeLoader` subclass: nothing in a file
is ever executed (a ``!!python/object`` tag is an error), duplicate keys are errors, and every
mapping key and sequence item is mapped to its 1-based line so validation errors can name it.

Hostile files are refused before anything is walked or built, in bounded time and memory:
at most :data:`MAX_FILE_BYTES` are read (``/dev/zero`` included), control characters are
refused with their line, and while the node graph is composed an alias may not point into the
block that contains it (``x: &r [*r]``), nesting is limited to :data:`MAX_DEPTH` levels and the
document, with every alias expanded, to :data:`MAX_NODES` values (a "billion laughs" file of a
few hundred bytes is refused as soon as its expansion passes the limit).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from simtrial.errors import ScenarioError

Loc = tuple[str | int, ...]

MAX_FILE_BYTES = 1 << 20
"""Largest scenario or evidence file read (1 MiB; the shipped ones are a few KiB)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists, aliases expanded."""
MAX_NODES = 100_000
"""Most values (mapping keys, values and list items) in a document, aliases expanded."""
MAX_ALIASES = 1_000
"""Most aliases (``*name``) in a document."""


class _LineLoader(yaml.SafeLoader):
    """SafeLoader recording ``{location tuple: line}`` for every key and item, and refusing
    recursive aliases, deep nesting and alias expansion bombs while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.lines: dict[Loc, int] = {}
        self._depth = 0
        self._aliases = 0
        self._open_anchors: set[str] = set()
        self._size: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded values, height)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise ScenarioError(f"more than {MAX_ALIASES} aliases (*name)", line=line)
            if event.anchor in self._open_anchors:
                raise ScenarioError(
                    f"alias *{event.anchor} refers to the block that contains it "
                    "(a recursive alias); aliases may only repeat a finished block",
                    line=line,
                )
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ScenarioError(f"nested more than {MAX_DEPTH} levels deep", line=line)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open_anchors.discard(anchor)
        if node is not None:
            self._measure(node, line)
        return node

    def _measure(self, node: yaml.Node, line: int | None) -> None:
        """Expanded size and height of ``node`` from its (already measured) children."""
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        sizes = [self._size.get(id(c), (1, 1)) for c in children]
        values = 1 + sum(v for v, _ in sizes)
        height = 1 + max((h for _, h in sizes), default=0)
        if values > MAX_NODES:
            raise ScenarioError(
                f"the document expands to more than {MAX_NODES} values (aliases repeat "
                "blocks); write the values out or use fewer aliases",
                line=line,
            )
        if height > MAX_DEPTH:
            raise ScenarioError(
                f"nested more than {MAX_DEPTH} levels deep (aliases expanded)", line=line
            )
        self._size[id(node)] = (values, height)


def read_text_limited(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of ``path``, reading at most ``limit + 1`` bytes.

    Raises
    ------
    ScenarioError
        The file cannot be read, is a FIFO or socket, is larger than ``limit`` bytes, is not
        UTF-8, or holds a control character (the message gives its line).
    """
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            raise ScenarioError("not a regular file (a pipe or socket)", file=str(path))
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise ScenarioError(f"cannot read file: {exc.strerror or exc}", file=str(path)) from None
    if len(raw) > limit:
        raise ScenarioError(
            f"file is larger than {limit:,} bytes; a scenario or evidence file is a few KiB",
            file=str(path),
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError("file is not UTF-8 text", file=str(path), line=line) from None
    bad = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise ScenarioError(
            f"control character U+{ord(bad.group()):04X} at column {column}; only printable "
            "text, tabs and line breaks are allowed",
            file=str(path),
            line=line,
        )
    return text


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
        The file is missing, too large, not UTF-8 text, holds control characters, is not valid
        YAML, uses a tag that would build an object, repeats a key, has a recursive alias,
        or is nested or expands (through aliases) beyond :data:`MAX_DEPTH` / :data:`MAX_NODES`.
    """
    path = Path(path)
    text = read_text_limited(path)
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
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ScenarioError(f"YAML error: {first}", file=str(path)) from None
    except RecursionError:  # pragma: no cover - the depth limit comes first
        raise ScenarioError(f"nested more than {MAX_DEPTH} levels deep", file=str(path)) from None
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


def from_variant(loc: Loc, base: Any, variant: Any) -> bool:
    """Whether the value at ``loc`` of a merged variant comes from the variant's own data.

    Follows :func:`simtrial.scenario.schema.deep_merge`: where both sides hold a mapping the merge
    goes on key by key; a key the variant gives with a non-mapping (or where the base has
    none) is the variant's; a key only the base gives is the base's. A field missing from
    both is the base's, unless the variant added the mapping that lacks it.
    """
    for part in loc:
        in_variant = isinstance(variant, Mapping) and part in variant
        in_base = isinstance(base, Mapping) and part in base
        if not in_variant:
            return False
        if not (in_base and isinstance(variant[part], Mapping) and isinstance(base[part], Mapping)):
            return True
        base, variant = base[part], variant[part]
    return False


def locate_merged(
    loc: Loc,
    lines: Mapping[Loc, int],
    variant: str | None,
    base_data: Any,
    variant_data: Any,
) -> tuple[int | None, str]:
    """``(line, field path)`` of ``loc`` in a (possibly merged) scenario: in the variant's
    section only when the value came from the variant (an error in the base is never
    attributed to a variant)."""
    if variant is not None and from_variant(loc, base_data, variant_data):
        full: Loc = ("variants", variant) + loc
        return line_for(lines, full), format_loc(full)
    return line_for(lines, loc), format_loc(loc)
