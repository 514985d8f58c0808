"""The Merkle tree of RFC 9162 (Certificate Transparency 2.0), section 2.1.

Leaf hash ``SHA-256(0x00 || entry)``, node hash ``SHA-256(0x01 || left ||
right)``; the tree hash of n leaves splits at the largest power of two
smaller than n. :class:`MerkleTree` keeps every complete subtree's hash, so
a root, an inclusion proof or a consistency proof for any size costs
O(log n) hashes; :class:`Frontier` keeps only the right edge (one hash per
bit of n) for streaming verification. The proof checks follow the RFC's
verification algorithms (2.1.3.2 and 2.1.4.2) step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
    "root_of",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The hash of the empty tree."""


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 leaf hash."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only tree holding the hash of every complete subtree."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        """``levels[h][i]``: hash of the complete subtree of leaves i*2^h .. (i+1)*2^h - 1."""
        self.extend(leaves)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash."""
        self.levels[0].append(leaf)
        h = 0
        while len(self.levels[h]) % 2 == 0:
            level = self.levels[h]
            if h + 1 == len(self.levels):
                self.levels.append([])
            self.levels[h + 1].append(node_hash(level[-2], level[-1]))
            h += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Add leaf hashes."""
        for leaf in leaves:
            self.append(leaf)

    def subtree(self, start: int, end: int) -> bytes:
        """MTH of leaves start .. end - 1 (start aligned as RFC 9162's splits leave it)."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            h = n.bit_length() - 1
            return self.levels[h][start >> h]
        k = _split(n)
        return node_hash(self.subtree(start, start + k), self.subtree(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """The tree hash of the first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        self._check(size)
        return self.subtree(0, size)

    def _check(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is outside 0..{self.size}")

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 2.1.3.1."""
        size = self.size if size is None else size
        self._check(size)
        if not 0 <= index < size:
            raise ValueError(f"entry {index} is not in a tree of {size} entries")
        proof: list[bytes] = []
        start, end, m = 0, size, index
        while end - start > 1:
            k = _split(end - start)
            if m < k:
                proof.append(self.subtree(start + k, end))
                end = start + k
            else:
                proof.append(self.subtree(start, start + k))
                start, m = start + k, m - k
        proof.reverse()  # the RFC lists the deepest sibling first
        return proof

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """PROOF(old, D[0:new]) of RFC 9162 2.1.4.1."""
        new = self.size if new is None else new
        self._check(new)
        if not 0 < old <= new:
            raise ValueError(f"no consistency proof from size {old} to size {new}")
        return self._subproof(old, 0, new, True)

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self.subtree(start, end)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, complete), self.subtree(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self.subtree(start, start + k)]


class Frontier:
    """The right edge of a growing tree: enough to compute its root at any size."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[tuple[int, bytes]] = []  # (subtree size, hash), largest first

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash."""
        size, value = 1, leaf
        while self.stack and self.stack[-1][0] == size:
            left_size, left = self.stack.pop()
            size, value = left_size + size, node_hash(left, value)
        self.stack.append((size, value))
        self.size += 1

    def root(self) -> bytes:
        """The tree hash of the leaves so far."""
        if not self.stack:
            return EMPTY_ROOT
        value = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            value = node_hash(left, value)
        return value


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The tree hash of leaf hashes."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does ``proof`` put leaf ``index`` in the tree of ``size`` and ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: does ``proof`` show the tree of ``old_size`` is a prefix of the new one?"""
    if old_size == new_size:
        return not proof and old_root == new_root
    if not 0 < old_size < new_size or not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root starts the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
