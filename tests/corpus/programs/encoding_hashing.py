"""base64, hashlib, hmac, binascii, zlib and codecs on fixed data."""
import base64
import binascii
import hashlib
import hmac
import zlib

data = "Grüße, world! ✓".encode("utf-8")
print(base64.b64encode(data), base64.urlsafe_b64encode(b"\xfb\xff\xfe"), base64.b32encode(b"abc"), base64.b16encode(b"\x01\xff"))
print(base64.b64decode(base64.b64encode(data)).decode(), base64.b85encode(b"hello"), base64.a85encode(b"hello"))
for name in ["md5", "sha1", "sha256", "sha512", "sha3_256", "blake2b"]:
    print(name, hashlib.new(name, data).hexdigest()[:32])
h = hashlib.sha256()
for chunk in (data[:5], data[5:]):
    h.update(chunk)
print(h.hexdigest() == hashlib.sha256(data).hexdigest(), h.digest_size, h.name)
print(hashlib.blake2b(data, digest_size=16, key=b"k").hexdigest())
print(hmac.new(b"secret", data, "sha256").hexdigest(), hmac.compare_digest(b"a", b"a"))
print(hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 1000).hex())
print(binascii.crc32(data), zlib.adler32(data), binascii.hexlify(b"\x00\x7f", "-"))
packed = zlib.compress(data * 20, 9)
print(len(data * 20), zlib.decompress(packed) == data * 20)
print(data.decode("utf-8"), data.decode("latin-1")[:8], "é".encode("utf-16-le"), "日本".encode("shift_jis"))
print("caf\xe9".encode("ascii", errors="replace"), b"caf\xe9".decode("utf-8", errors="replace"), "x\u2603".encode("ascii", "backslashreplace"))
print(repr("tab\t\u00e9\U0001F600"), ascii("é😀"), "😀".encode("utf-8"), len("😀"), len("😀".encode("utf-16-le")))
