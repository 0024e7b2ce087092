"""Names and paths that come from untrusted documents.

* a name that becomes a file or folder name (an audit extraction's ``name``) follows
  :data:`SAFE_NAME`: 1 to 100 of ``A-Z a-z 0-9 . _ -``, not starting with a dot, so it
  can name neither a parent folder nor an absolute path nor a hidden file;
* :func:`inside` resolves a path (symbolic links included) and refuses it unless it lies
  inside a given folder: every file an audit writes, or reads back from its own store;
* :func:`bundle_file` finds the model file a certificate names only inside the bundle:
  the certificate's folder, the folder above it (an audit folder holds ``certificates/``
  and ``models/``), or a folder the user gives (``verisnn check --models-dir``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from .documents import clip
from .errors import InputError

SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
_models_dirs: tuple[Path, ...] = ()


def check_name(name: object, field: str) -> str:
    """``name`` if it is a safe file name (:data:`SAFE_NAME`), else :class:`InputError` naming ``field``."""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        raise InputError(f"{clip(repr(name), 60)} is not a usable file name: 1 to 100 of the characters A-Z a-z "
                         f"0-9 . _ -, starting with a letter, digit or _", field)
    return name


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def inside(root: str | Path, path: str | Path, field: str) -> Path:
    """``path`` (relative to ``root``, or absolute) resolved, when it lies inside ``root``
    (also resolved); else :class:`InputError` naming ``field``."""
    top = Path(root).resolve()
    resolved = (top / path).resolve()
    if not _within(resolved, top):
        raise InputError(f"{clip(str(path), 120)} lies outside the folder {root}", field)
    return resolved


def set_models_dirs(dirs: Iterable[str | Path] | None) -> None:
    """Folders where :func:`bundle_file` also looks for a certificate's model file, by its
    file name (``verisnn check --models-dir``); ``None``: none."""
    global _models_dirs
    _models_dirs = tuple(Path(d).resolve() for d in dirs or ())


def bundle_file(path: str, base: Path | None) -> Path | None:
    """The regular file that a certificate in folder ``base`` names by ``path``, found
    only inside the bundle: ``path`` relative to ``base`` (or absolute) when it resolves
    inside ``base`` or the folder above it, or a file of its name in a folder of
    :func:`set_models_dirs`. ``base`` None (a certificate not read from a file): the
    current folder. None when there is no such file."""
    p = Path(path)
    folder = (base if base is not None else Path.cwd()).resolve()
    roots = [folder] + ([folder.parent] if base is not None and folder.parent != folder else [])
    candidates = [(p if p.is_absolute() else folder / p, roots)] + [(d / p.name, [d]) for d in _models_dirs]
    for candidate, allowed in candidates:
        resolved = candidate.resolve()
        if any(_within(resolved, r) for r in allowed) and resolved.is_file():
            return candidate  # as the certificate names it, for the messages
    return None


__all__ = ["SAFE_NAME", "bundle_file", "check_name", "inside", "set_models_dirs"]
