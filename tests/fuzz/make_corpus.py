#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the seed corpus of the heap fuzzer into corpus/.

Each seed is a short, readable scenario in the input language of
fuzz_heap.c (see the comment at its top and run_op()); libFuzzer mutates
from these, and fuzz_heap_corpus replays them as they are. The encoder
only tracks how many blocks are live, which decides whether an operation
that picks a live block reads an index byte; the scenarios are built so
that it is known which allocations succeed.

Run from anywhere: python3 tests/fuzz/make_corpus.py
"""
import os

# Header byte 2 is 0: alloc_cut is 48, opcodes 0..47 allocate and 48 + i
# picks kind i of the rest (run_op()).
ALLOC_CUT = 48
OP_ALLOC = 0
OP_FREE, OP_DOUBLE, OP_INTERIOR, OP_WRONG, OP_OUTSIDE = (ALLOC_CUT + i for i in (0, 4, 5, 6, 7))
OP_BAD_SIZE, OP_ANYWHERE, OP_CHECK = (ALLOC_CUT + i for i in (8, 9, 10))


def u16(v):
    return [v & 0xff, (v >> 8) & 0xff]


class Seed:
    def __init__(self, max_order, min_block, slot=1):
        """slot: the thread's heap slot, 1..4 (header byte 0's b / 7)."""
        self.max_order = max_order
        self.min_order = min_block.bit_length() - 1
        self.b = bytearray([max_order - 10 + 7 * (slot - 1), self.min_order - 4, 0])
        self.nlive = 0

    def order_bytes(self, x):
        """The bytes of size_of_order() that give exactly x (1 <= x <= 2^M)."""
        e = (x - 1).bit_length()
        if e == 0:
            return [0]
        lo = 1 << (e - 1)
        return [e] + u16(x - lo - 1)

    def alloc(self, x, ok=True):
        self.b += bytes([OP_ALLOC, 3] + self.order_bytes(x))
        self.nlive += ok

    def alloc_zero(self):
        self.b += bytes([OP_ALLOC, 0])

    def alloc_oversize(self):
        self.b += bytes([OP_ALLOC, 1, 0])       # 2^M + 1
        self.b += bytes([OP_ALLOC, 0x81, 0])    # SIZE_MAX

    def alloc_whole(self, ok=True):
        self.b += bytes([OP_ALLOC, 2])
        self.nlive += ok

    def free(self, idx, use_block_size=False):
        """Free live[idx] (the table is swap-remove: live[-1] moves to idx)."""
        self.b += bytes([OP_FREE] + u16(idx) + [1 if use_block_size else 0])
        self.nlive -= 1

    def double_free(self, j):
        """Free again the j-th remembered freed block."""
        self.b += bytes([OP_DOUBLE, j])

    def interior(self, idx, delta_minus_1):
        self.b += bytes([OP_INTERIOR] + u16(idx) + u16(delta_minus_1) + [1])

    def wrong_order(self, idx, k_byte):
        self.b += bytes([OP_WRONG] + u16(idx) + [k_byte, 1])

    def outside(self, variant):
        """0: base-1, 1: base+2^M, 2: stack, 3: the header, 4: NULL, 5: past the end."""
        self.b += bytes([OP_OUTSIDE] + self.order_bytes(16) + [variant])
        if variant == 5:
            self.b += bytes(u16(0x1234))

    def bad_size(self, variant):
        """0: x = 0, 1: x = 2^M + 1, 2: x = SIZE_MAX; on live[0] if any."""
        self.b += bytes([OP_BAD_SIZE])
        if self.nlive:
            self.b += bytes(u16(0))
        self.b += bytes([variant])
        if variant == 1:
            self.b += bytes([0])

    def anywhere(self, off, x):
        self.b += bytes([OP_ANYWHERE] + u16(off) + [off >> 16, 0, 3] + self.order_bytes(x))

    def check(self):
        self.b += bytes([OP_CHECK])

    def free_from_front(self):
        """Free every live block, live[0] each time (swap-remove makes that an
        interleaved order), the block size on every other one; then check."""
        n = 0
        while self.nlive:
            self.free(0, use_block_size=n % 2 == 1)
            n += 1
        self.check()


def exhaust_reverse():
    """2^10 heap of 64-byte blocks: 16 allocations, ENOMEM, then LIFO frees."""
    s = Seed(10, 64)
    for _ in range(16):
        s.alloc(64)
    s.alloc(1, ok=False)
    s.check()
    while s.nlive:
        s.free(s.nlive - 1)
    s.check()
    return s


def exhaust_mixed():
    """Mixed orders down to exhaustion, then frees from the front (swap-remove
    makes that an interleaved order), the block size on every other one."""
    s = Seed(12, 16)
    for x in (1000, 17, 300, 2048, 33, 16, 100, 200):
        s.alloc(x)
    s.alloc(64, ok=False)   # 16 bytes left, in one min block
    s.alloc(1)
    s.alloc(500, ok=False)
    s.check()
    s.free_from_front()
    return s


def whole_heap():
    """The one block of 2^M, nothing left after it, and back."""
    s = Seed(16, 32)
    s.alloc_whole()
    s.alloc(16, ok=False)
    s.alloc_zero()
    s.alloc_oversize()
    s.free(0)
    s.alloc(65536)
    s.free(0, use_block_size=True)
    s.check()
    return s


def bad_double_free():
    s = Seed(11, 32)
    s.alloc(64)             # at 0
    s.free(0)               # the heap is whole again; remembered as (0, 64)
    s.double_free(0)        # EALREADY
    s.alloc(32)             # at 0 again, a smaller order
    s.double_free(0)        # ERANGE: a 32-byte block starts there
    s.free(0)               # remembered as (0, 32)
    s.alloc(50)             # a 64-byte block at 0 once more
    s.double_free(0)        # a stale pointer that matches the new block: freed
    s.nlive -= 1
    s.double_free(1)        # EALREADY
    s.check()
    return s


def bad_interior():
    s = Seed(13, 64)
    s.alloc(1024)
    s.alloc(64)
    s.interior(0, 0)        # p + 1
    s.interior(0, 511)      # p + 512
    s.interior(1, 62)       # last byte of a 64-byte block
    s.check()
    return s


def bad_wrong_order():
    s = Seed(14, 16)
    s.alloc(256)
    s.alloc(16)
    s.wrong_order(0, 0)     # 2^4 at a 2^8 block
    s.wrong_order(0, 9)     # larger than the block
    s.wrong_order(1, 2)     # 2^7 at a 2^4 block
    s.check()
    return s


def bad_outside():
    s = Seed(10, 16)
    s.alloc(16)
    for v in range(6):
        s.outside(v)
    s.check()
    return s


def bad_size():
    s = Seed(15, 64)
    s.bad_size(0)           # no live block: at the block area start
    s.alloc(4096)
    for v in range(3):
        s.bad_size(v)
    s.check()
    return s


def free_in_free_memory():
    s = Seed(12, 32)
    s.alloc(32)
    s.anywhere(0x800, 64)   # free memory: EALREADY
    s.anywhere(0x10, 32)    # inside the live block: ENXIO
    s.anywhere(0x0, 32)     # the live block itself: freed
    s.nlive -= 1
    s.anywhere(0x0, 32)     # and now free memory
    s.check()
    return s


def region_spill():
    """Slot 2 on 2^16 of 16-byte blocks: its region is the 64th at 1/2 (64
    blocks). Fill it and spill into the lowest-first search, free all, then
    larger blocks, the whole heap refused while some live, granted after."""
    s = Seed(16, 16, slot=2)
    for _ in range(70):
        s.alloc(16)
    s.check()
    while s.nlive:
        s.free(s.nlive - 1)
    s.alloc(1024)
    s.alloc(512)
    s.alloc(16)
    s.alloc_whole(ok=False)
    s.check()
    while s.nlive:
        s.free(0)
    s.alloc_whole()
    s.free(0)
    s.check()
    return s


def region_mixed():
    """Slot 3 (the 64th at 1/4) on 2^15 of 16-byte blocks: mixed sizes split
    towards the region's start, some larger than the region."""
    s = Seed(15, 16, slot=3)
    for x in (16, 300, 17, 2048, 64, 16, 700, 5000):
        s.alloc(x)
    s.check()
    s.free_from_front()
    return s


SEEDS = {
    "exhaust-reverse": exhaust_reverse,
    "exhaust-mixed": exhaust_mixed,
    "whole-heap": whole_heap,
    "bad-double-free": bad_double_free,
    "bad-interior": bad_interior,
    "bad-wrong-order": bad_wrong_order,
    "bad-outside": bad_outside,
    "bad-size": bad_size,
    "free-in-free-memory": free_in_free_memory,
    "region-spill": region_spill,
    "region-mixed": region_mixed,
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, build in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(build().b)


if __name__ == "__main__":
    main()
