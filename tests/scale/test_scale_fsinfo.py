"""A cache on a network filesystem is detected from the mount table, and the warning says the fix."""

import warnings

import pytest

from lmwrapper.store.fsinfo import network_filesystem, network_warning, warn_if_network_fs


@pytest.fixture
def mounts(tmp_path):
    """A mount table like a cluster node's, over real directories under tmp_path."""
    tmp_path = tmp_path.resolve()  # the mount table holds real paths
    for d in ("home", "home/me/local scratch", "lustre", "sshfs", "ssd"):
        (tmp_path / d).mkdir(parents=True)
    table = tmp_path / "mounts"
    table.write_text(
        "sysfs /sys sysfs rw,nosuid 0 0\n"
        f"/dev/sda1 {tmp_path} ext4 rw,relatime 0 0\n"
        f"nfs.example:/export/home {tmp_path}/home nfs4 rw,vers=4.2 0 0\n"
        f"/dev/nvme0n1 {tmp_path}/home/me/local\\040scratch xfs rw 0 0\n"
        f"10.0.0.1@tcp:/lus {tmp_path}/lustre lustre rw 0 0\n"
        f"me@host:/data {tmp_path}/sshfs fuse.sshfs rw 0 0\n"
        f"/dev/sdb1 {tmp_path}/ssd ext4 rw 0 0\n"
    )
    return str(table)


@pytest.mark.parametrize("where,expected", [
    ("home", "nfs4"),
    ("home/me/cache/lmwrapper.sqlite", "nfs4"),      # not created yet: judged by its parent
    ("home/me/local scratch/cache", None),           # a local disk mounted under the NFS home
    ("lustre/project/cache", "lustre"),
    ("sshfs", "fuse.sshfs"),
    ("ssd/cache", None),
    ("homework", None),                              # a prefix of the name is not a parent
])
def test_the_longest_mount_point_above_the_path_decides(tmp_path, mounts, where, expected):
    assert network_filesystem(tmp_path / where, mounts) == expected


def test_without_a_mount_table_nothing_is_claimed(tmp_path):
    assert network_filesystem(tmp_path, str(tmp_path / "no-such-mounts")) is None


def test_the_real_mount_table_is_read():
    assert network_filesystem("/proc") is None  # procfs: local, and /proc/mounts parses


def test_the_warning_names_the_fix(tmp_path, mounts, monkeypatch):
    with pytest.warns(UserWarning) as caught:
        assert warn_if_network_fs(tmp_path / "home" / "c.sqlite", mounts) == "nfs4"
    text = str(caught[0].message)
    assert "nfs4" in text and "LMWRAPPER_CACHE_DIR" in text and "lmwrapper cache merge" in text
    assert text == network_warning(tmp_path / "home" / "c.sqlite", "nfs4")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_network_fs(tmp_path / "ssd", mounts) is None
        monkeypatch.setenv("LMWRAPPER_ALLOW_NETWORK_CACHE", "1")
        assert warn_if_network_fs(tmp_path / "home", mounts) is None
