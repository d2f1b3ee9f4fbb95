"""Logging configured as an application does: handlers, formatters, levels, filters."""
import io
import logging
import sys

stream = io.StringIO()
handler = logging.StreamHandler(stream)
handler.setFormatter(logging.Formatter("%(levelname)-8s %(name)s: %(message)s"))
root = logging.getLogger("app")
root.setLevel(logging.DEBUG)
root.addHandler(handler)


class NoSecrets(logging.Filter):
    def filter(self, record):
        return "password" not in record.getMessage()


db = logging.getLogger("app.db")
db.addFilter(NoSecrets())
db.setLevel(logging.INFO)
root.debug("starting %s v%d", "app", 2)
db.debug("hidden")
db.info("connected to %s", "db1")
db.warning("password=hunter2")
try:
    1 / 0
except ZeroDivisionError:
    root.exception("math failed")
logging.getLogger("app.web").error("status %(code)s", {"code": 500})
root.log(25, "custom level")
logging.addLevelName(25, "NOTICE")
root.log(25, "named level")
text = stream.getvalue()
for line in text.splitlines():
    if not line.startswith("  ") and not line.startswith("Traceback"):
        print(line)
print("traceback logged:", "ZeroDivisionError: division by zero" in text)
print(db.getEffectiveLevel(), logging.getLevelName(db.getEffectiveLevel()), db.isEnabledFor(logging.DEBUG))
print(logging.getLogger("app.web").parent.name)
out = logging.StreamHandler(sys.stdout)
out.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
plain = logging.getLogger("plain")
plain.addHandler(out)
plain.propagate = False
plain.warning("to stdout")
plain.info("not shown: level is WARNING by default")
