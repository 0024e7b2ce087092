"""Reading untrusted documents: the one strict reader of every YAML or JSON file verisnn
reads (models, properties, certificates, campaign and training configs, hardware profiles
and placements, alphabets, rule files).

* :func:`read_bounded` reads a regular file up to a size limit, refusing larger files
  (and devices or pipes) before reading them;
* :func:`parse_json` is strict JSON: no NaN/Infinity, no duplicate keys;
* :func:`parse_yaml` is YAML through :class:`StrictSafeLoader`: no Python tags (so no
  code execution), no aliases (``&a``/``*a`` expand exponentially: a 1 KiB file can
  stand for gigabytes), no duplicate keys, at most :data:`MAX_DEPTH` levels of nesting;
* :func:`load_document` does both: JSON for a ``.json`` file, YAML otherwise.

Every problem raises the error class the caller names, with a message of bounded
length (:func:`clip`) that never echoes the document.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import ModelError, VerisnnError
from .limits import human_bytes, require_memory

MAX_DEPTH = 100  # nesting levels of a YAML document (the real ones have fewer than 10)
JSON_BYTES_PER_CHAR = 24  # Python objects per character of JSON text, at worst (measured: 20 for [1,1,...])
MAX_MESSAGE_CHARS = 200  # of a piece of a document quoted in an error message


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to about ``limit`` characters: its head and its tail (where a message
    says what is wrong with the value it quotes), saying how much was left out."""
    text = str(text)
    if len(text) <= limit:
        return text
    tail = limit // 4
    return f"{text[:limit - tail]}...({len(text) - limit:,} characters left out)...{text[-tail:]}"


def read_bounded(path: Path, max_bytes: int, error_cls: type, what: str) -> bytes:
    """The bytes of ``path``, refusing files over ``max_bytes`` before reading them."""
    limit = human_bytes(max_bytes)
    try:
        # non-blocking: opening a FIFO for reading would otherwise wait for a writer
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):  # a device or pipe (/dev/zero) has no size to check first
                raise error_cls(f"not a regular file: a {what} is read from a file", str(path))
            if st.st_size > max_bytes:
                raise error_cls(f"{st.st_size} bytes: larger than the {limit} a {what} file may have", str(path))
            data = f.read(max_bytes + 1)  # a file that grows while it is read still stops at the limit
    except OSError as e:
        raise error_cls(f"cannot read: {e.strerror}", str(path)) from None
    if len(data) > max_bytes:
        raise error_cls(f"larger than the {limit} a {what} file may have", str(path))
    return data


# ----------------------------------------------------------------------------- JSON


def _reject_constant(name: str):
    raise ModelError(f"{name} is not a number JSON allows")


def _no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ModelError(f"key {clip(repr(k), 80)} appears twice in one object")
        seen[k] = v
    return seen


def parse_json(text: str | bytes, what: str = "model", error: type = ModelError, where: str | None = None) -> Any:
    """Strict JSON: no NaN/Infinity, no duplicate keys; any problem raises
    ``error(message, where)`` naming the line. The parsed objects are budgeted first, at
    :data:`JSON_BYTES_PER_CHAR` per character of the text (a list of one-digit numbers
    takes about 20 bytes per character once parsed)."""
    require_memory(len(text) * JSON_BYTES_PER_CHAR, f"parsing the {what} ({human_bytes(len(text))} of JSON)")
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as e:
        problem = f"not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
    except RecursionError:
        problem = f"the {what} file nests too deeply to be a {what}"
    except UnicodeDecodeError as e:
        problem = f"not UTF-8 text: {e.reason} at byte {e.start}"
    except ModelError as e:  # _reject_constant, _no_duplicates
        problem = e.message
    except ValueError as e:  # e.g. an integer literal longer than Python's 4300-digit limit
        problem = f"not a usable JSON document: {clip(str(e).split(':')[0])}"
    raise error(problem, where)


# ----------------------------------------------------------------------------- YAML


class StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (no Python tags, so no code execution) that also refuses
    aliases (``&a``/``*a``, which can expand exponentially), duplicate keys, nesting
    deeper than :data:`MAX_DEPTH` and the tags that make no JSON value (``!!binary``,
    ``!!set``, ``!!omap``, ``!!pairs``); a bare date stays the text it is.
    ``document`` names what is read, in the error messages."""

    document = "a document"
    _depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, f"aliases (*name) are not allowed in {self.document}",
                                              event.start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"{self.document} nests deeper than {MAX_DEPTH} levels",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = []
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {clip(repr(key), 80)} appears twice in one object", key_node.start_mark)
            seen.append(key)  # a list: YAML keys may be unhashable; the schemas refuse those later
        return super().construct_mapping(node, deep=deep)

    def _not_json(self, node):
        raise yaml.constructor.ConstructorError(None, None, f"tag {clip(node.tag, 80)} makes no JSON value",
                                                node.start_mark)


for _tag in ("binary", "set", "omap", "pairs"):
    StrictSafeLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", StrictSafeLoader._not_json)
StrictSafeLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_scalar)


def parse_yaml(text: str | bytes, what: str = "document", error: type = VerisnnError, where: str | None = None) -> Any:
    """A YAML document through :class:`StrictSafeLoader`; any problem raises
    ``error(message, where)`` naming the line (``what`` names the document: ``property``,
    ``campaign config``)."""
    loader = type("_Loader", (StrictSafeLoader,), {"document": f"a {what}"})
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        at = f" at line {e.problem_mark.line + 1}, column {e.problem_mark.column + 1}" if e.problem_mark else ""
        problem = f"{clip(e.problem)}{at}"
    except yaml.YAMLError as e:  # e.g. a reader error: not UTF-8, a control character
        problem = clip(str(e).splitlines()[0] if str(e) else type(e).__name__)
    except RecursionError:
        problem = f"it nests too deeply to be a {what}"
    except ValueError as e:  # an integer of more than Python's 4300 digits
        problem = clip(str(e).split(":")[0])
    raise error(f"not a usable YAML document: {problem}", where)


def _json_integer(checker, x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


# Draft 2020-12 counts 5.0 as an integer; a size or count read from a document must be a
# JSON integer, or it reaches range() and torch as a float.
StrictValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _json_integer))


def load_document(path: str | Path, max_bytes: int, error: type, what: str) -> Any:
    """The document in file ``path`` (at most ``max_bytes``): strict JSON for a ``.json``
    file, strict YAML otherwise. Errors (``error``) name the file."""
    p = Path(path)
    data = read_bounded(p, max_bytes, error, what)
    parse = parse_json if p.suffix.lower() == ".json" else parse_yaml
    return parse(data, what, error, p.name)


__all__ = ["MAX_DEPTH", "MAX_MESSAGE_CHARS", "StrictSafeLoader", "StrictValidator", "clip", "load_document",
           "parse_json", "parse_yaml", "read_bounded"]
