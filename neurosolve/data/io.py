"""Atomic file writes and the HDF5 writer of solve results and fields.

Every file the package writes goes through :func:`atomic_path`: the content goes to a
temporary file in the target's folder, which is renamed onto the target only after the
write finished. An interrupted write therefore never leaves a truncated file at the
target, and an existing file is only ever replaced by a complete one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` and rename it onto ``path`` on success.

    Parameters
    ----------
    path : str or PathLike
        The file to create or replace. Its folder must exist.

    Yields
    ------
    Path
        An empty temporary file in the same folder (so the rename stays on one file
        system), named ``<name>.tmp-<random>``. Write to it, or replace it, inside the
        ``with`` block.

    Raises
    ------
    FileNotFoundError
        If the folder of ``path`` does not exist.

    Notes
    -----
    On normal exit the temporary file is flushed to disk and moved onto ``path`` with
    :func:`os.replace`, which is atomic on POSIX file systems. On any exception,
    ``KeyboardInterrupt`` included, it is deleted and the exception propagates. A process
    killed outright (``SIGKILL``, power loss) can leave the temporary file behind, but
    never a partial file at ``path``.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cannot write {target}: folder {folder} does not exist; create it first"
        )
    handle, name = tempfile.mkstemp(prefix=f"{target.name}.tmp-", dir=folder)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        _flush_to_disk(temporary)
        _apply_umask(temporary)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def _flush_to_disk(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _apply_umask(path: Path) -> None:
    # mkstemp creates files readable by the owner only; give the usual permissions instead.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
