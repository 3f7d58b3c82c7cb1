"""A YAML configuration file read with the line of every key, so a refusal names file + line.

`load_with_lines(path)` (or `parse_with_lines(text, file)`) returns the plain data (as
`yaml.safe_load` would, but a key given twice is refused) and a `Lines` that answers the
1-based line of any key path (`("endpoints", 0, "url")`); a path not in the file falls back
to its nearest parent. `ConfigError` is the refusal: file, line, key path and reason in one
message. Every configuration file beside the business rules is read this way (webhooks,
surveys, cases, journey).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from contracts.errors import InvalidInput

KeyPath = tuple[str | int, ...]


class ConfigError(InvalidInput):
    """A configuration file is invalid: which file, which line, which key, why."""

    def __init__(self, file: str, line: int | None, key: str, reason: str) -> None:
        self.file, self.line, self.key, self.reason = file, line, key, reason
        where = file if line is None else f"{file}, line {line}"
        super().__init__(f"{where}: {key + ': ' if key else ''}{reason}")


def dotted(path: Sequence[str | int]) -> str:
    """`("endpoints", 0, "url")` → `endpoints[0].url`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class Lines:
    """The line of each key path of one file, and refusals that cite it."""

    def __init__(self, file: str, lines: dict[KeyPath, int]) -> None:
        self.file = file
        self._lines = lines

    def line(self, path: Sequence[str | int]) -> int | None:
        key = tuple(path)
        while key and key not in self._lines:
            key = key[:-1]
        return self._lines.get(key)

    def error(self, path: Sequence[str | int], reason: str) -> ConfigError:
        return ConfigError(self.file, self.line(path), dotted(path), reason)

    def mapping(self, raw: Any, path: Sequence[str | int], known: set[str]) -> dict[str, Any]:
        """`raw` if it is a mapping of only `known` keys; else the refusal at its line."""
        if not isinstance(raw, dict):
            raise self.error(path, "must be a mapping")
        for key in raw:
            if key not in known:
                raise self.error(
                    (*path, key), f"unknown key {key!r}; known: {', '.join(sorted(known))}"
                )
        return raw


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], file: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key in out:
                raise ConfigError(
                    file, key_node.start_mark.line + 1, dotted(path), f"duplicate key {key!r}"
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, (*path, key), lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(child, (*path, i), lines, file) for i, child in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    return SafeConstructor().construct_object(node, deep=True)


def load_with_lines(path: Path) -> tuple[Any, Lines]:
    """The file's data (None when empty) and the line of each key; `ConfigError` if it
    cannot be read or is not valid YAML (with the line YAML stopped at)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(str(path), None, "", f"cannot read: {reason}") from exc
    return parse_with_lines(text, str(path))


def parse_with_lines(text: str, file: str) -> tuple[Any, Lines]:
    """`load_with_lines` of a text already read (`file` names it in errors)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise ConfigError(
            file, None if mark is None else mark.line + 1, "", f"not valid YAML: {exc.problem}"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(file, None, "", f"not valid YAML: {exc}") from exc
    lines: dict[KeyPath, int] = {}
    data = None if node is None else _walk(node, (), lines, file)
    return data, Lines(file, lines)
