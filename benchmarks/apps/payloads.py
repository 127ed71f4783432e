"""Bodies and files shared by the three benchmark apps (built once, at import)."""

from __future__ import annotations

import os
from pathlib import Path

HELLO = b"Hello, World!"
BODY_10K = b"x" * (10 * 1024)
BODY_1M = b"x" * (1024 * 1024)
FILE_50K_SIZE = 50 * 1024
SLEEP_SECONDS = 0.01
CHUNK_SIZE = 64 * 1024

_DATA_DIR = Path(__file__).resolve().parent / "_data"
FILE_50K = str(_DATA_DIR / "file50k.bin")


def ensure_file_50k() -> str:
    """Create the 50 KiB file once; atomic so concurrent imports never see it half-written."""
    path = Path(FILE_50K)
    if path.is_file() and path.stat().st_size == FILE_50K_SIZE:
        return FILE_50K
    _DATA_DIR.mkdir(exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(bytes(range(256)) * (FILE_50K_SIZE // 256))
    os.replace(tmp, path)
    return FILE_50K


ensure_file_50k()
