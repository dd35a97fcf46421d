"""Writing files so that a failure loses nothing: atomic replacement, and append-only logs with a digest.

Every file the harness replaces (manifests, checkpoints, resume points, merged tables) is written to a
temporary file with a unique name in the same folder, flushed to disk and renamed over the target; the
temporary file is removed whatever fails. Two processes writing the same target never share a temporary
file, and a reader sees the old file or the new one, never half of one.

The run's CSV logs (``metrics.csv``, ``traces.csv``, ``progress.csv``) only grow. :class:`AppendOnlyFile`
keeps the size and the SHA-256 of everything written so far; the run records both after each evaluation
(manifest) and at each resume point, so a resume and a merge can check that a file still holds exactly
those bytes (:func:`holds_prefix`): a row cut, edited or removed is found by content, not only by count.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def atomic_write(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(temporary_path)`` and rename the result over ``path``; no temporary file survives.

    ``write`` receives a path in ``path``'s folder with a unique name (``torch.save``, ``to_parquet`` and
    ``Path.write_bytes`` all take one). Raises what ``write``, the flush or the rename raise (``OSError``
    for a full disk or a read-only folder), after removing the temporary file.
    """
    atomic_write_set({Path(path): write})
    return Path(path)


def atomic_write_set(writes: dict[Path, Callable[[Path], Any]]) -> None:
    """Write several files as one set: every temporary file is written and flushed first, and only when
    all of them are complete are they renamed over their targets. A failure while writing leaves every
    target as it was and no temporary file behind."""
    temporaries: dict[Path, Path] = {}
    try:
        for path, write in writes.items():
            descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.close(descriptor)
            temporaries[path] = Path(name)
            os.chmod(name, 0o666 & ~_umask())  # mkstemp makes 0600; the target gets the usual mode
            try:
                write(temporaries[path])
            except OSError:
                raise
            except Exception as exc:
                # torch.save reports a full disk as a RuntimeError of its zip writer, without an errno.
                if _disk_is_full(path.parent):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from exc
                raise
            with open(temporaries[path], "rb+") as file:  # the bytes reach the disk before the name does
                os.fsync(file.fileno())
        for path, temporary in temporaries.items():
            os.replace(temporary, path)
    finally:
        for temporary in temporaries.values():
            with suppress(FileNotFoundError):
                temporary.unlink()


FULL_DISK_BYTES = 1 << 20
"""free space below which a failed write is taken for a full disk"""


def _disk_is_full(folder: Path) -> bool:
    try:
        status = os.statvfs(folder)
    except OSError:
        return False
    return status.f_bavail * status.f_frsize < FULL_DISK_BYTES


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Replace ``path``'s content with ``data`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda temporary: temporary.write_bytes(data))


@dataclass(frozen=True)
class Digest:
    """The size and SHA-256 of a file's first ``size`` bytes."""

    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"bytes": self.size, "sha256": self.sha256}

    @classmethod
    def from_json(cls, data: Any) -> Digest:
        """Raises ``ValueError`` for anything but ``{"bytes": int >= 0, "sha256": 64 hex digits}``."""
        if not isinstance(data, dict):
            raise ValueError(f"a file digest must be a mapping, got {data!r}")
        size, sha = data.get("bytes"), data.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"a file digest's size must be an integer >= 0, got {size!r}")
        if not isinstance(sha, str) or len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError(f"a file digest's sha256 must be 64 hex digits, got {sha!r}")
        return cls(size, sha)


def digest_of_prefix(path: Path, size: int) -> Digest | None:
    """The digest of ``path``'s first ``size`` bytes, or None if the file is missing or shorter."""
    try:
        with open(path, "rb") as file:
            sha = hashlib.sha256()
            remaining = size
            while remaining:
                chunk = file.read(min(CHUNK, remaining))
                if not chunk:
                    return None
                sha.update(chunk)
                remaining -= len(chunk)
    except FileNotFoundError:
        return None
    return Digest(size, sha.hexdigest())


def holds_prefix(path: Path, expected: Digest) -> bool:
    """Whether ``path`` starts with exactly the bytes ``expected`` describes."""
    return digest_of_prefix(path, expected.size) == expected


def cut_to(path: Path, size: int) -> None:
    """Drop everything after ``path``'s first ``size`` bytes (rows written after a resume point)."""
    with open(path, "rb+") as file:
        file.truncate(size)
        file.flush()
        os.fsync(file.fileno())


class AppendOnlyFile:
    """A file that only grows, with the size and SHA-256 of what it holds kept as it grows.

    Opening an existing file reads it once to start the digest. :meth:`append` writes all its bytes or,
    when the write fails, cuts the file back to where it was (a full disk leaves no half row behind when
    the cut itself can still be made; a resume cuts to the recorded size in any case).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._sha = hashlib.sha256()
        self.size = 0
        if self.path.exists():
            with open(self.path, "rb") as file:
                while chunk := file.read(CHUNK):
                    self._sha.update(chunk)
                    self.size += len(chunk)

    @property
    def digest(self) -> Digest:
        return Digest(self.size, self._sha.hexdigest())

    def append(self, data: bytes) -> None:
        try:
            with open(self.path, "ab") as file:
                file.write(data)
                file.flush()
        except OSError:
            with suppress(OSError):
                cut_to(self.path, self.size)
            raise
        self._sha.update(data)
        self.size += len(data)
