"""The AWS CLI and rclone, in subprocesses, against the server."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from s3_helpers import ACCESS_KEY, REGION, SECRET_KEY, ServerThread

MiB = 1024 * 1024
# A CLI command may take this long before the test gives up on it.
COMMAND_TIMEOUT = 120


def _files(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    (tree / "sub" / "deeper").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"alpha\n")
    (tree / "sub" / "b.txt").write_bytes(b"beta\n" * 1000)
    (tree / "sub" / "deeper" / "c d.bin").write_bytes(os.urandom(20 * MiB))  # multipart
    (tree / "sub.txt").write_bytes(b"a file next to a directory of the same stem")
    return tree


def _tree_digests(top: Path) -> dict[str, str]:
    return {
        str(p.relative_to(top)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(top.rglob("*"))
        if p.is_file()
    }


def test_aws_cli(server: ServerThread, s3: Any, tmp_path: Path) -> None:
    pytest.importorskip("awscli")
    tree = _files(tmp_path)
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
    )

    def aws(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "awscli", "--endpoint-url", server.url, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, (args, result.stderr)
        return result.stdout

    aws("s3", "mb", "s3://cli-bucket")
    aws("s3", "sync", str(tree), "s3://cli-bucket/synced/")
    listing = aws("s3", "ls", "--recursive", "s3://cli-bucket/")
    assert "synced/sub/deeper/c d.bin" in listing
    assert "synced/sub.txt" in listing
    top = aws("s3", "ls", "s3://cli-bucket/synced/")
    assert "PRE sub/" in top and "a.txt" in top
    assert (
        s3.head_object(Bucket="cli-bucket", Key="synced/sub/deeper/c d.bin")["ETag"].count("-") == 1
    )
    back = tmp_path / "back"
    aws("s3", "sync", "s3://cli-bucket/synced/", str(back))
    assert _tree_digests(back) == _tree_digests(tree)
    aws("s3", "cp", "s3://cli-bucket/synced/a.txt", "s3://cli-bucket/copied.txt")
    head = aws("s3api", "head-object", "--bucket", "cli-bucket", "--key", "copied.txt")
    assert hashlib.md5(b"alpha\n").hexdigest() in head
    aws("s3", "rm", "--recursive", "s3://cli-bucket/")
    aws("s3", "rb", "s3://cli-bucket")
    assert s3.list_buckets()["Buckets"] == []


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone is not installed")
def test_rclone(server: ServerThread, s3: Any, tmp_path: Path) -> None:
    tree = _files(tmp_path)
    config = tmp_path / "rclone.conf"
    config.write_text("")
    # The AWS SDK in rclone would load AWS_CA_BUNDLE and then refuse its own
    # HTTP transport; the server is plain HTTP, so leave AWS settings out.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env = dict(
        inherited,
        RCLONE_CONFIG=str(config),
        RCLONE_CONFIG_LOCALS3_TYPE="s3",
        RCLONE_CONFIG_LOCALS3_PROVIDER="Other",
        RCLONE_CONFIG_LOCALS3_ACCESS_KEY_ID=ACCESS_KEY,
        RCLONE_CONFIG_LOCALS3_SECRET_ACCESS_KEY=SECRET_KEY,
        RCLONE_CONFIG_LOCALS3_ENDPOINT=server.url,
        RCLONE_CONFIG_LOCALS3_REGION=REGION,
        RCLONE_CONFIG_LOCALS3_FORCE_PATH_STYLE="true",
    )

    def rclone(*args: str) -> str:
        result = subprocess.run(
            ["rclone", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, (args, result.stderr)
        return result.stdout

    rclone("mkdir", "locals3:rclone-bucket")
    rclone("copy", str(tree), "locals3:rclone-bucket/copied")
    rclone("check", str(tree), "locals3:rclone-bucket/copied")
    listed = rclone("lsf", "-R", "locals3:rclone-bucket/copied")
    assert "sub/deeper/c d.bin" in listed.splitlines()
    assert rclone("cat", "locals3:rclone-bucket/copied/a.txt") == "alpha\n"
    back = tmp_path / "back"
    rclone("copy", "locals3:rclone-bucket/copied", str(back))
    assert _tree_digests(back) == _tree_digests(tree)
    rclone("purge", "locals3:rclone-bucket")
    assert s3.list_buckets()["Buckets"] == []
