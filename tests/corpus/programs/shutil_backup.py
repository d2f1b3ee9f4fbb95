"""Backing up a directory tree with shutil: copy, copytree, move, archives, rmtree."""
import filecmp
import os
import shutil
import sys
import tempfile

root = tempfile.mkdtemp(dir=sys.argv[1])
src = os.path.join(root, "project")
os.makedirs(os.path.join(src, "sub"))
for name, text in [("a.txt", "alpha\n"), ("b.log", "log\n" * 100), ("sub/c.txt", "gamma\n")]:
    with open(os.path.join(src, name), "w") as f:
        f.write(text)
copied = shutil.copy(os.path.join(src, "a.txt"), os.path.join(root, "a-copy.txt"))
print(os.path.basename(copied), filecmp.cmp(copied, os.path.join(src, "a.txt"), shallow=False))
shutil.copy2(os.path.join(src, "a.txt"), os.path.join(root, "a-copy2.txt"))
shutil.copyfile(os.path.join(src, "b.log"), os.path.join(root, "b.log"))
backup = shutil.copytree(src, os.path.join(root, "backup"), ignore=shutil.ignore_patterns("*.log"))
listing = sorted(os.path.relpath(os.path.join(d, f), backup) for d, _, fs in os.walk(backup) for f in fs)
print(listing)
shutil.move(os.path.join(root, "b.log"), os.path.join(root, "moved.log"))
print(sorted(os.listdir(root)))
archive = shutil.make_archive(os.path.join(root, "snap"), "zip", backup)
print(os.path.basename(archive))
out = os.path.join(root, "unpacked")
shutil.unpack_archive(archive, out)
print(sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs))
shutil.rmtree(backup)
print(os.path.exists(backup), shutil.disk_usage(root).total > 0)
