"""A first script for `rewind run`: it reads its arguments, the clock and a
file beside it, and crashes on request, as any Python program might."""

import datetime
import os
import sys

from greeting import greet

names = sys.argv[1:] or ["world"]
for name in names:
    print(greet(name))

here = os.path.dirname(__file__)
with open(os.path.join(here, "greeting.py")) as source:
    lines = source.read().splitlines()
print(f"greeting.py has {len(lines)} lines; it is {datetime.date.today():%A}.")

# Nothing outside the script's directory is visible unless granted.
try:
    open("/etc/passwd")
except OSError as err:
    print(f"/etc/passwd is out of reach: {type(err).__name__}")

if "--crash" in names:
    ratio = len(names) / (len(names) - len(names))
