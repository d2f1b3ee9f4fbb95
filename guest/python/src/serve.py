"""Serving a WSGI application in the sandbox (`rewind serve`), with the
debugging layer of Python Paste's `EvalException`.

The host runs the HTTP server and hands this guest one request at a time
(`_rewind.next_request`); `main` turns each into a PEP 3333 `environ`, calls
the application, and answers (`_rewind.respond`).

The debugging layer (`EvalException`) wraps the application. A request that
fails with an unexpected exception (one not in the request's
`environ['paste.expected_exceptions']`, nor in those given to `rewind serve
--expect`) is kept under a debug id: its frames, and the state of its
registry (`revdebug.registry.restorer`). Its recording is written
(`revdebug.exception`), and it is answered with a 500 whose `X-Debug-URL`
header names the debug page. That page shows the traceback; each frame opens
to its locals and evaluates Python in that frame, REPL-style, with the
request's registered objects restored. Expected exceptions are raised on as
usual, to the server's plain 500.
"""

import html
import io
import json
import sys
import traceback
from urllib.parse import parse_qs, unquote_to_bytes

import _rewind
import revdebug
from revdebug import registry
from revdebug.registry import restorer

__all__ = ["EvalException", "main"]

# Failed requests kept for the debugger: the oldest go beyond this.
MAX_KEPT = 50
# Characters of a local's value shown on the page.
MAX_VALUE = 2000


def main(path, callable_name, prefix, expected_names):
    """Imports the application from `path` and serves until the host stops."""
    name = path.rsplit("/", 1)[-1]
    if name.endswith(".py"):
        name = name[:-3]
    import importlib
    module = importlib.import_module(name)
    try:
        application = getattr(module, callable_name)
    except AttributeError:
        raise SystemExit(
            "rewind serve: %s has no %r (give APP as FILE.py:CALLABLE)" % (path, callable_name)
        )
    if not callable(application):
        raise SystemExit("rewind serve: %s:%s is not callable" % (path, callable_name))
    expected = tuple(_resolve(name) for name in expected_names)
    # Debug ids name this worker, so that the host sends a debug page to it.
    registry._request_id_prefix = prefix
    debugger = EvalException(application, expected=expected)
    while True:
        request = _rewind.next_request()
        if request is None:
            return
        status, headers, body = handle(debugger, request)
        _rewind.respond(request["id"], status, headers, body)


def _resolve(name):
    """An exception class by name: a builtin (`KeyError`) or `module.Class`."""
    module, _, attr = name.rpartition(".")
    if not module:
        import builtins
        found = getattr(builtins, attr, None)
    else:
        import importlib
        found = getattr(importlib.import_module(module), attr, None)
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise SystemExit("rewind serve: --expect %s is not an exception class" % name)
    return found


def environ_of(request):
    """The PEP 3333 environ of a request."""
    path = unquote_to_bytes(request["path"]).decode("latin-1")
    environ = {
        "REQUEST_METHOD": request["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": request["query"],
        "SERVER_NAME": request["server_name"],
        "SERVER_PORT": str(request["server_port"]),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": request["remote_addr"],
        "REMOTE_PORT": str(request["remote_port"]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(request["body"]),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for header, value in request["headers"]:
        key = header.upper().replace("-", "_")
        if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
            environ[key] = value
        elif key != "PROXY":
            key = "HTTP_" + key
            environ[key] = environ[key] + "," + value if key in environ else value
    environ.setdefault("CONTENT_LENGTH", str(len(request["body"])))
    return environ


def handle(application, request):
    """Calls the application on one request: `(status, headers, body)`."""
    environ = environ_of(request)
    started = {}
    written = []

    def start_response(status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if started.get("sent"):
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif "status" in started:
            raise AssertionError("start_response was called twice without exc_info")
        started["status"] = status
        started["headers"] = list(headers)
        return written.append

    try:
        result = application(environ, start_response)
        try:
            for chunk in result:
                if chunk:
                    started["sent"] = True
                    written.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if "status" not in started:
            raise AssertionError("the application returned without calling start_response")
        status = int(started["status"].split(None, 1)[0])
        headers = [(str(name), str(value)) for name, value in started["headers"]]
        return status, headers, b"".join(written)
    except Exception:
        # What a WSGI server does: a plain 500, the traceback on stderr.
        traceback.print_exc()
        return 500, [("Content-Type", "text/plain; charset=utf-8")], b"Internal Server Error\n"


class DebugInfo:
    """A failed request, kept for the debugger."""

    def __init__(self, debug_id, exc_info, environ):
        self.debug_id = debug_id
        self.exc_type, self.exc_value, tb = exc_info
        self.path = environ.get("PATH_INFO", "")
        self.method = environ.get("REQUEST_METHOD", "")
        self.frames = []
        while tb is not None:
            frame = tb.tb_frame
            # The debugging layer's and the registry's own frames are not
            # the application's.
            if not frame.f_code.co_filename.startswith("<revdebug"):
                self.frames.append((frame, tb.tb_lineno, dict(frame.f_locals)))
            tb = tb.tb_next
        self.traceback = "".join(traceback.format_exception(*exc_info))

    def describe(self):
        return [
            {
                "index": index,
                "function": frame.f_code.co_name,
                "file": frame.f_code.co_filename,
                "line": line,
                "locals": {
                    name: _short(revdebug._saferepr(value))
                    for name, value in sorted(scope.items())
                },
            }
            for index, (frame, line, scope) in enumerate(self.frames)
        ]

    def evaluate(self, index, source):
        """Runs `source` in frame `index`, REPL-style, with the request's
        registry state restored: the text it printed, expression values
        echoed, an exception's traceback."""
        frame, _, scope = self.frames[index]
        out = io.StringIO()
        saved = sys.stdout, sys.stderr, sys.displayhook

        def echo(value):
            if value is not None:
                scope["_"] = value
                out.write(repr(value) + "\n")

        # A request that registered nothing has no saved state: proxies
        # answer live then, as outside a restoration.
        restoring = self.debug_id in restorer.saved_registry_states
        if restoring:
            restorer.restoration_begin(self.debug_id)
        sys.stdout = sys.stderr = out
        sys.displayhook = echo
        try:
            try:
                code = compile(source, "<debugger>", "single")
                exec(code, frame.f_globals, scope)
            except SystemExit:
                out.write("SystemExit is not allowed here\n")
            except BaseException:
                etype, value, tb = sys.exc_info()
                out.write("".join(traceback.format_exception(etype, value, tb.tb_next)))
        finally:
            sys.stdout, sys.stderr, sys.displayhook = saved
            if restoring:
                restorer.restoration_end()
        return out.getvalue()


def _short(text):
    if len(text) > MAX_VALUE:
        return text[:MAX_VALUE] + "..."
    return text


class EvalException:
    """The debugging layer, as Paste's `EvalException` middleware.

    `environ['paste.evalexception']` tells `RegistryManager` that the layer
    is there. A request that fails unexpectedly gets its debug id from the
    restorer (`environ['paste.evalexception.debug_count']`, kept when it has
    one), and its registry state is saved under it, here too when no
    `RegistryManager` below saw the exception.
    """

    def __init__(self, application, expected=()):
        self.application = application
        self.expected = tuple(expected)
        self.debug_infos = {}

    def __call__(self, environ, start_response):
        environ["paste.evalexception"] = self
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_debug/"):
            return self.debug(environ, start_response)
        environ.setdefault("paste.expected_exceptions", []).extend(self.expected)
        try:
            result = self.application(environ, start_response)
            # The body is made now: an exception while making it is the
            # request's too.
            try:
                body = [chunk for chunk in result]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            return body
        except Exception as error:
            for kind in environ.get("paste.expected_exceptions", ()):
                if isinstance(error, kind):
                    raise
            return self.failed(environ, start_response, sys.exc_info())

    def failed(self, environ, start_response, exc_info):
        restorer.save_registry_state(environ)
        debug_id = restorer.get_request_id(environ)
        info = DebugInfo(debug_id, exc_info, environ)
        self.debug_infos[debug_id] = info
        while len(self.debug_infos) > MAX_KEPT:
            oldest = next(iter(self.debug_infos))
            del self.debug_infos[oldest]
            restorer.saved_registry_states.pop(oldest, None)
        try:
            revdebug.exception(exc_info[1])
        except Exception:
            traceback.print_exc()
        url = "/_debug/view/%s" % (debug_id,)
        page = _ERROR_PAGE % {
            "type": html.escape(info.exc_type.__name__),
            "message": html.escape(str(info.exc_value)),
            "url": html.escape(url),
        }
        start_response(
            "500 Internal Server Error",
            [("Content-Type", "text/html; charset=utf-8"), ("X-Debug-URL", url)],
            exc_info,
        )
        return [page.encode("utf-8")]

    def debug(self, environ, start_response):
        parts = environ["PATH_INFO"].split("/")
        # ['', '_debug', ACTION, ID]; ids are strings in `rewind serve`, and
        # numbers where the restorer numbered the request.
        infos = {str(debug_id): info for debug_id, info in self.debug_infos.items()}
        if len(parts) != 4 or parts[3] not in infos:
            return _answer(start_response, "404 Not Found", "text/plain", "no such failed request\n")
        action, info = parts[2], infos[parts[3]]
        if action == "view":
            return _answer(start_response, "200 OK", "text/html", _page(info))
        if action == "frames":
            return _answer(start_response, "200 OK", "application/json", json.dumps(info.describe()))
        if action == "exec" and environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = parse_qs(environ["wsgi.input"].read(length).decode("utf-8", "replace"))
            try:
                index = int(form.get("frame", ["-1"])[0])
                source = form.get("input", [""])[0]
            except ValueError:
                index, source = -1, ""
            if not 0 <= index < len(info.frames):
                return _answer(start_response, "400 Bad Request", "text/plain", "no such frame\n")
            return _answer(start_response, "200 OK", "text/plain", info.evaluate(index, source))
        return _answer(start_response, "404 Not Found", "text/plain", "no such debugger page\n")


def _answer(start_response, status, kind, text):
    start_response(status, [("Content-Type", kind + "; charset=utf-8"), ("Cache-Control", "no-store")])
    return [text.encode("utf-8")]


_ERROR_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>500 Internal Server Error</title></head>
<body><h1>%(type)s: %(message)s</h1>
<p>The request failed. <a href="%(url)s">Debug it</a>: its frames, their
locals, and Python evaluated in any of them with the request's state
restored.</p></body></html>
"""


def _page(info):
    frames = []
    for frame in info.describe():
        rows = "".join(
            "<tr><th>%s</th><td><code>%s</code></td></tr>"
            % (html.escape(name), html.escape(value))
            for name, value in frame["locals"].items()
        )
        frames.append(_FRAME % {
            "index": frame["index"],
            "function": html.escape(frame["function"]),
            "file": html.escape(frame["file"]),
            "line": frame["line"],
            "locals": rows or "<tr><td>no locals</td></tr>",
        })
    return _PAGE % {
        "id": html.escape(str(info.debug_id)),
        "type": html.escape(info.exc_type.__name__),
        "message": html.escape(str(info.exc_value)),
        "request": html.escape("%s %s" % (info.method, info.path)),
        "frames": "".join(frames),
        "traceback": html.escape(info.traceback),
    }


_FRAME = """<details class="frame" id="frame-%(index)d" data-frame="%(index)d">
<summary><b>%(function)s</b> in <code>%(file)s</code>, line %(line)d</summary>
<table class="locals">%(locals)s</table>
<pre class="output"></pre>
<label>&gt;&gt;&gt; <input class="eval" type="text" autocomplete="off" spellcheck="false"
 placeholder="a Python expression or statement, then Enter"></label>
</details>
"""

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>%(type)s: %(message)s</title>
<style>
body { font-family: sans-serif; margin: 1.5em; }
details.frame { border: 1px solid #ccc; margin: .4em 0; padding: .3em .6em; }
table.locals th { text-align: left; padding-right: 1em; vertical-align: top; }
pre.output { background: #f6f6f6; margin: .3em 0; white-space: pre-wrap; }
input.eval { width: 80%%; font-family: monospace; }
</style></head>
<body data-debug-id="%(id)s">
<h1>%(type)s: %(message)s</h1>
<p>Request <code>%(request)s</code>, debug id <code>%(id)s</code>. Open a frame
to see its locals and evaluate Python in it, with the request's objects
restored. Up and Down recall earlier input.</p>
%(frames)s
<h2>Traceback</h2>
<pre>%(traceback)s</pre>
<script>
(function () {
  var id = document.body.dataset.debugId;
  var history = [];
  document.querySelectorAll("input.eval").forEach(function (input) {
    var frame = input.closest("details").dataset.frame;
    var output = input.closest("details").querySelector("pre.output");
    var at = 0;
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowUp" || event.key === "ArrowDown") {
        if (!history.length) { return; }
        at = Math.max(0, Math.min(history.length, at + (event.key === "ArrowUp" ? -1 : 1)));
        input.value = at < history.length ? history[at] : "";
        event.preventDefault();
        return;
      }
      if (event.key !== "Enter") { return; }
      var source = input.value;
      history.push(source);
      at = history.length;
      input.value = "";
      var body = "frame=" + encodeURIComponent(frame) + "&input=" + encodeURIComponent(source);
      fetch("/_debug/exec/" + encodeURIComponent(id), {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: body,
        credentials: "same-origin"
      }).then(function (response) { return response.text(); })
        .then(function (text) {
          output.textContent += ">>> " + source + "\\n" + text;
        });
    });
  });
})();
</script>
</body></html>
"""
