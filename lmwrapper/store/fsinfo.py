"""Is a path on a network filesystem? SQLite's locking is not safe there.

SQLite relies on POSIX advisory locks and, in WAL mode, on a shared-memory index beside the
database; NFS, SMB and most cluster filesystems implement the first unreliably and the
second not at all across machines, so a cache on them can be corrupted or stall with
"database is locked". Each task of a job array should use a cache on local disk and the
files be merged afterwards (`lmwrapper cache merge`).

    >>> network_filesystem("/home/me/cache")     # Linux: read from /proc/mounts
    'nfs4'
    >>> network_filesystem("/tmp")               # local disk, or not Linux
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

MOUNTS_FILE = "/proc/mounts"

# Filesystem types (the third field of /proc/mounts) that live on another machine.
NETWORK_TYPES = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "coda",
    "lustre", "gpfs", "beegfs", "glusterfs", "cephfs", "ceph", "ocfs2", "gfs2", "orangefs",
    "pvfs2", "panfs", "9p", "davfs", "fuse.sshfs", "fuse.glusterfs", "fuse.cephfs",
    "fuse.gcsfuse", "fuse.s3fs", "fuse.rclone", "fuse.juicefs", "fuse.lizardfs",
    "fuse.moosefs", "fuse.beegfs", "fuse.davfs", "fuse.blobfuse", "fuse.blobfuse2",
})


def network_filesystem(path: str | os.PathLike[str], mounts_file: str = MOUNTS_FILE) -> str | None:
    """The filesystem type when `path` is on a network filesystem, else None.

    The mount with the longest mount point that is a prefix of the path wins (a local disk
    mounted under an NFS home is local). Where the mount table cannot be read (not Linux),
    the answer is None: this is a warning, never a refusal.
    """
    try:
        with open(mounts_file, encoding="utf-8", errors="replace") as f:
            mounts = _parse_mounts(f.read())
    except OSError:
        return None
    fstype = _fstype_of(_existing_ancestor(Path(path)), mounts)
    return fstype if fstype is not None and _is_network(fstype) else None


def _parse_mounts(text: str) -> list[tuple[str, str]]:
    """(mount point, type) per line; /proc/mounts writes spaces in paths as \\040."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            point = fields[1].replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")
            mounts.append((point, fields[2]))
    return mounts


def _existing_ancestor(path: Path) -> str:
    # The cache directory may not exist yet: judge where it will be created.
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    return os.path.realpath(p)


def _fstype_of(path: str, mounts: list[tuple[str, str]]) -> str | None:
    best, best_type = -1, None
    for point, fstype in mounts:  # later lines win ties: they are mounted over earlier ones
        under = path == point or path.startswith(point.rstrip("/") + "/")
        if under and len(point) >= best:
            best, best_type = len(point), fstype
    return best_type


def _is_network(fstype: str) -> bool:
    return fstype in NETWORK_TYPES or fstype.startswith(("nfs", "smb"))


def network_warning(path: str | os.PathLike[str], fstype: str) -> str:
    """What to tell the user when the cache file is on a network filesystem."""
    return (
        f"lmwrapper: the cache {path} is on a network filesystem ({fstype}). SQLite's locks "
        "are not reliable there: several processes writing it can corrupt it or stall. Put "
        "the cache on local disk (set LMWRAPPER_CACHE_DIR, e.g. to $TMPDIR or /scratch on the "
        "node; one directory per job-array task), then join the files with `lmwrapper cache "
        "merge SRC... --into DST` (the merged file may live on shared storage when no job "
        "writes to it). Set LMWRAPPER_ALLOW_NETWORK_CACHE=1 to silence this warning."
    )


def warn_if_network_fs(path: str | os.PathLike[str],
                       mounts_file: str = MOUNTS_FILE) -> str | None:
    """Warn (a `UserWarning`) when `path` is on a network filesystem.

    The hook for wherever a cache file is opened; returns the filesystem type, or None.
    """
    if os.environ.get("LMWRAPPER_ALLOW_NETWORK_CACHE", "") in ("1", "true", "yes"):
        return None
    fstype = network_filesystem(path, mounts_file)
    if fstype is not None:
        warnings.warn(network_warning(path, fstype), UserWarning, stacklevel=2)
    return fstype
