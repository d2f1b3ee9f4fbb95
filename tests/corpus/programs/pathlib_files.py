"""Files under a scratch directory: pathlib, glob, read/write, rename, stat, walk."""
import os
import sys
import tempfile
from pathlib import Path

root = Path(tempfile.mkdtemp(dir=sys.argv[1]))
(root / "src" / "pkg").mkdir(parents=True)
(root / "docs").mkdir()
(root / "src" / "pkg" / "__init__.py").write_text("VERSION = '1.0'\n")
(root / "src" / "pkg" / "core.py").write_text("def f():\n    return 1\n" * 3)
(root / "docs" / "index.md").write_text("# Title\n\nText.\n", encoding="utf-8")
(root / "data.bin").write_bytes(bytes(range(256)))

print(sorted(p.relative_to(root).as_posix() for p in root.rglob("*")))
print(sorted(p.name for p in root.glob("src/**/*.py")))
core = root / "src" / "pkg" / "core.py"
print(core.suffix, core.stem, core.parent.name, core.stat().st_size, len(core.read_text().splitlines()))
print((root / "data.bin").read_bytes()[250:], (root / "data.bin").stat().st_size)
renamed = core.rename(core.with_name("engine.py"))
print(renamed.name, core.exists(), renamed.exists())
with open(root / "log.txt", "a") as f:
    for i in range(3):
        print(f"line {i}", file=f)
with open(root / "log.txt") as f:
    print([line.rstrip() for line in f])
for dirpath, dirnames, filenames in sorted(os.walk(root)):
    dirnames.sort()
    print(Path(dirpath).relative_to(root).as_posix(), sorted(filenames))
(root / "docs" / "index.md").unlink()
(root / "docs").rmdir()
print(sorted(p.name for p in root.iterdir()))
p = Path("a/b/../c.tar.gz")
print(p.suffixes, p.parts, Path("/x/y").is_absolute(), p.with_suffix(".zip").as_posix())
try:
    (root / "missing.txt").read_text()
except FileNotFoundError as e:
    print("FileNotFoundError", e.errno)
