"""Binary records: struct packing, a tiny file format, bytes and memoryview."""
import os
import struct
import sys
import tempfile

HEADER = struct.Struct("<4sHHI")
RECORD = struct.Struct("<i d 8s ?")
records = [(1, 3.25, b"alpha", True), (-2, -0.5, b"beta", False), (300000, 1e-9, b"gamma!!!", True)]
payload = b"".join(RECORD.pack(*r) for r in records)
blob = HEADER.pack(b"RWND", 1, RECORD.size, len(records)) + payload
print(len(blob), HEADER.size, RECORD.size, blob[:12].hex(" "))
path = os.path.join(tempfile.mkdtemp(dir=sys.argv[1]), "data.bin")
with open(path, "wb") as f:
    f.write(blob)
with open(path, "rb") as f:
    magic, version, size, count = HEADER.unpack(f.read(HEADER.size))
    print(magic, version, size, count)
    for fields in RECORD.iter_unpack(f.read()):
        n, x, name, flag = fields
        print(n, x, name.rstrip(b"\0").decode(), flag)
print(struct.pack(">I", 0xDEADBEEF), struct.pack("<h", -2), struct.unpack(">HH", b"\x00\x01\x00\x02"))
print(struct.calcsize("@ib"), struct.calcsize("=ib"), struct.pack("!f", 1.5).hex(), struct.unpack("<e", b"\x00\x3c"))
try:
    struct.pack("<B", 256)
except struct.error as e:
    print("struct.error:", e)
buf = bytearray(8)
struct.pack_into("<HH", buf, 2, 7, 9)
print(buf, struct.unpack_from("<H", buf, 4))
view = memoryview(blob)
print(view[4:6].tobytes(), view.nbytes, bytes(view[-3:]), view[0], list(view[:4].cast("B")))
ba = bytearray(b"hello world")
ba[0:5] = b"HELLO"
ba.extend(b"!")
print(ba, ba.find(b"o"), ba.upper(), bytes.fromhex("48 69"), b"abc".hex(), b"a\x00b".split(b"\x00"))
