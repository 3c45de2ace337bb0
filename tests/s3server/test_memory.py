"""A 200 MiB multipart upload and download, with the server's memory bounded."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import pytest
from s3_helpers import ServerProcess

MiB = 1024 * 1024
OBJECT_BYTES = 200 * MiB
# The server's peak resident memory may grow by at most this much over its
# idle size while a 200 MiB object goes in and out (4 parts of 8 MiB in
# flight): far below the object, so nothing holds a part or the whole in memory.
MEMORY_GROWTH_LIMIT_KIB = 32 * 1024


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.timeout(300)
def test_200_mib_multipart_upload_in_bounded_memory(tmp_path: Path, make_client: Any) -> None:
    from boto3.s3.transfer import TransferConfig

    root = tmp_path / "root"
    root.mkdir()
    source = tmp_path / "source.bin"
    digest = hashlib.md5()
    block = bytes(range(256)) * 4096  # 1 MiB
    with source.open("wb") as file:
        for n in range(OBJECT_BYTES // MiB):
            chunk = n.to_bytes(4, "big") + block[4:]
            digest.update(chunk)
            file.write(chunk)
    server = ServerProcess(str(root))
    try:
        s3 = make_client(server.url)
        s3.create_bucket(Bucket="large")
        idle = server.status_kib("VmRSS")
        config = TransferConfig(
            multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4
        )
        s3.upload_file(str(source), "large", "big.bin", Config=config)
        head = s3.head_object(Bucket="large", Key="big.bin")
        assert head["ContentLength"] == OBJECT_BYTES
        assert head["ETag"].endswith('-25"')
        target = tmp_path / "target.bin"
        s3.download_file("large", "big.bin", str(target), Config=config)
        check = hashlib.md5()
        with target.open("rb") as file:
            while piece := file.read(MiB):
                check.update(piece)
        assert check.hexdigest() == digest.hexdigest()
        peak = server.status_kib("VmHWM")
        assert peak - idle < MEMORY_GROWTH_LIMIT_KIB, (idle, peak)
    finally:
        errors = server.stop()
    assert "Traceback" not in errors, errors
