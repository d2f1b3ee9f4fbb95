"""A script that imports subprocess and falls back when processes cannot start."""
import shutil
import subprocess
import sys

print(subprocess.PIPE, subprocess.DEVNULL, subprocess.STDOUT, issubclass(subprocess.CalledProcessError, subprocess.SubprocessError))
err = subprocess.CalledProcessError(2, ["git", "status"], output=b"out")
print(err, err.returncode, err.cmd)
print(subprocess.list2cmdline(["a b", "c", 'd"e']))
print(repr(subprocess.TimeoutExpired(["sleep"], 1.5)))
try:
    done = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True, check=True)
    answer = done.stdout.strip()
except OSError:
    answer = str(6 * 7)
print("answer", answer)
print(shutil.which("definitely-not-a-command-xyz"))
