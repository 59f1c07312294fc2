"""Cheap content fingerprints of big files: a hash of evenly spaced blocks instead of every byte. Standard library
only, Python 3.9+ syntax: the engine (``--resume``'s plate fingerprints) and the host adapters (version keys) both
use it."""
from __future__ import annotations

from typing import BinaryIO, Protocol


class Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def hash_samples(handle: BinaryIO, size: int, digest: Digest, block: int, count: int) -> None:
    """Feed ``digest`` ``count`` evenly spaced ``block``-byte blocks of the open file ``handle`` of ``size`` bytes
    (its first and last blocks included), or the whole file when it is no bigger than those blocks."""
    if size <= block * count:
        digest.update(handle.read())
        return
    step = (size - block) / (count - 1)
    for index in range(count):
        handle.seek(int(index * step))
        digest.update(handle.read(block))
