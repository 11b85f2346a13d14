"""Single-writer lock files for stores.

A store opened for writing holds a lock file: ``<name>.h5.lock`` next to an HDF5 file,
``<name>.zarr/.cgkit.lock`` inside a Zarr directory. It is created atomically
(``O_CREAT | O_EXCL``) and holds JSON ``{"pid", "host", "created"}``. A second writer is
refused with :class:`StoreLockedError` naming the holder. Readers never take the lock
(HDF5's own file locking is switched off for that): a reader sees the frames committed
when it opened the store (see :mod:`cgkit.data.schema`) and re-opens to see later ones.

Stale locks: a writer killed with SIGKILL cannot remove its lock. When the lock names a
process on *this* host that no longer exists, the lock is stale and the next writer
takes it over (with a :class:`UserWarning`). A lock held by another host cannot be
checked; after making sure no process there still writes, remove it with
:func:`break_lock` (``cgkit info --break-lock PATH``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import warnings
from pathlib import Path


class StoreLockedError(PermissionError):
    """The store is already opened for writing by another process (or this one)."""


def lock_path(store_path: str | Path) -> Path:
    """Path of the lock file that guards ``store_path`` against a second writer."""
    store_path = Path(store_path)
    if store_path.suffix.lower() == ".zarr":
        return store_path / ".cgkit.lock"
    return store_path.with_name(store_path.name + ".lock")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _read_holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class WriterLock:
    """The lock file of one writer; release it with :meth:`release`."""

    def __init__(self, store_path: str | Path):
        self.store_path = Path(store_path)
        self.path = lock_path(self.store_path)
        self.held = False

    def acquire(self) -> WriterLock:
        """Take the lock or raise :class:`StoreLockedError`; stale local locks are taken over."""
        holder_text = json.dumps(
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            }
        )
        for _attempt in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read_holder(self.path)
                if self._is_stale(holder):
                    warnings.warn(
                        f"{self.store_path}: removing stale lock of dead process "
                        f"{holder.get('pid')} on {holder.get('host')}",
                        stacklevel=3,
                    )
                    self.path.unlink(missing_ok=True)
                    continue
                raise StoreLockedError(
                    f"{self.store_path} is already open for writing by process "
                    f"{holder.get('pid', '?')} on host {holder.get('host', '?')} since "
                    f"{holder.get('created', '?')} (lock file {self.path}); close that writer "
                    f"first, or if it is gone remove the lock with cgkit.data.break_lock()"
                ) from None
            with os.fdopen(fd, "w") as handle:
                handle.write(holder_text)
            self.held = True
            return self
        raise StoreLockedError(f"{self.store_path}: could not take the lock {self.path}")

    @staticmethod
    def _is_stale(holder: dict) -> bool:
        if not holder or "pid" not in holder:
            return False  # being written right now, or unreadable: do not guess
        if holder.get("host") != socket.gethostname():
            return False
        pid = int(holder["pid"])
        return pid != os.getpid() and not _pid_alive(pid)

    def release(self) -> None:
        """Remove the lock file if this object holds it."""
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


def break_lock(store_path: str | Path) -> bool:
    """Remove the writer lock of ``store_path`` unconditionally.

    Use only when the writer that holds it is known to be gone (for example a killed
    job on another host). Returns whether a lock file was removed.
    """
    path = lock_path(store_path)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed
