# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the packet-replay benchmarks (replay_vs_testpmd.sh, replay_tx_modes.sh): the
# captures they replay, written the same way for both (docs/iop-bench-replay.md).
# Needs python3.

# gen_capture FILE SIZE N: N Ethernet/IPv4/UDP frames of SIZE bytes (as stored in the pcap:
# no FCS), each its own flow (source port, destination address), checksummed, 1 us apart.
gen_capture() {
	python3 - "$@" <<'EOF'
import struct, sys

def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

path, size, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))  # pcap, EN10MB
    for i in range(n):
        payload = bytes((i + j) & 0xff for j in range(size - 42))
        udp = struct.pack('!HHHH', 1024 + i, 9, 8 + len(payload), 0) + payload
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                         bytes([198, 18, 0, 1]), bytes([198, 19, i >> 8 & 0xff, i & 0xff]))
        ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
        pkt = bytes.fromhex('020000000002' '020000000001' '0800') + ip + udp
        assert len(pkt) == size
        f.write(struct.pack('<IIII', i // 1000000, i % 1000000, size, size) + pkt)
EOF
}
