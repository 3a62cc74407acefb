"""Writing files so that a crash, a full disk or Ctrl-C never leaves half a file."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(
    path: str | Path, write: Callable[[Path], Any], suffix: str = ".part"
) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it.

    A failure leaves nothing behind: no partial file at ``path`` and no temporary file.
    The file gets the mode a plain ``open()`` would give (``0o666`` less the umask), so
    others on a shared machine can read it when the umask allows. ``suffix`` is the
    temporary file's ending, for writers that insist on one (Keras).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as valid JSON (non-finite numbers become ``null``), atomically."""
    text = json.dumps(_finite(data), indent=1, allow_nan=False) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text), suffix=".json")
