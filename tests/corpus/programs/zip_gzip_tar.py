"""Archives in a scratch directory: zipfile, gzip, tarfile, and in-memory buffers."""
import gzip
import io
import os
import sys
import tarfile
import tempfile
import zipfile

work = tempfile.mkdtemp(dir=sys.argv[1])
files = {"readme.txt": "hello\n" * 50, "data/numbers.csv": "\n".join(str(i * i) for i in range(100)), "empty.txt": ""}
zpath = os.path.join(work, "bundle.zip")
with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED) as zf:
    for name, text in files.items():
        zf.writestr(name, text)
with zipfile.ZipFile(zpath) as zf:
    print(sorted(zf.namelist()), zf.testzip())
    for info in sorted(zf.infolist(), key=lambda i: i.filename):
        print(info.filename, info.file_size, info.compress_type)
    print(zf.read("data/numbers.csv").decode().splitlines()[-1])
gz = os.path.join(work, "log.gz")
with gzip.open(gz, "wt", encoding="utf-8") as f:
    f.write("line\n" * 1000)
with gzip.open(gz, "rt") as f:
    print(sum(1 for _ in f))
print(gzip.decompress(gzip.compress(b"abc" * 10, mtime=0)), len(gzip.compress(b"x", mtime=0)))
tpath = os.path.join(work, "bundle.tar.gz")
with tarfile.open(tpath, "w:gz") as tf:
    for name, text in files.items():
        data = text.encode()
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 0
        tf.addfile(info, io.BytesIO(data))
with tarfile.open(tpath) as tf:
    print([(m.name, m.size, m.isfile()) for m in tf.getmembers()])
    print(tf.extractfile("readme.txt").read()[:12])
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as zf:
    zf.writestr("x.txt", "in memory")
print(zipfile.ZipFile(io.BytesIO(buf.getvalue())).read("x.txt"), zipfile.is_zipfile(io.BytesIO(b"nope")))
