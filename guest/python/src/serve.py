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
header names the debug page. That page shows the traceback and each frame:
its source around the line it was at, its locals, and a prompt that
evaluates Python in that frame, REPL-style, with the request's registered
objects restored. Names the prompt makes (`_`, assignments, imports) live in
a namespace of the prompt's own, started from a copy of the frame's locals,
so the page can list them apart from the frame's. Expected exceptions are
raised on as usual, to the server's plain 500.
"""

import contextlib
import html
import io
import json
import linecache
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
# Lines of source shown before and after each frame's line.
CONTEXT = 3
# Characters of the exception the server's log line names.
MAX_FAILURE = 300
# The response header that tells the host which exception a failed request
# raised, for its log line; the host takes it out of the response.
FAILURE_HEADER = "X-Rewind-Failure"


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
        headers = [
            (str(name), str(value)) for name, value in started["headers"]
            if str(name).lower() != FAILURE_HEADER.lower()
        ]
        failure = environ.get("revdebug.failure")
        if failure:
            headers.append((FAILURE_HEADER, failure))
        return status, headers, b"".join(written)
    except Exception:
        # What a WSGI server does: a plain 500, the traceback on stderr.
        traceback.print_exc()
        return 500, [("Content-Type", "text/plain; charset=utf-8")], b"Internal Server Error\n"


class Frame:
    """One frame of a failed request: where it was, its source around that
    line, the locals it had, and the namespace of its prompt."""

    def __init__(self, frame, line):
        self.frame = frame
        self.line = line
        self.locals = dict(frame.f_locals)
        # The prompt's names: a copy of the locals, so that what the prompt
        # makes or rebinds never shows as the frame's own.
        self.namespace = dict(self.locals)
        self.source = _source(frame.f_code.co_filename, line, frame.f_globals)

    def repl_names(self):
        """What the prompt made: new names, and locals it bound anew."""
        return {
            name: value for name, value in self.namespace.items()
            if name not in self.locals or self.locals[name] is not value
        }


def _source(filename, line, module_globals):
    """The lines around `line` of `filename`: `[(number, text)]`, empty when
    the source is not to be had."""
    lines = linecache.getlines(filename, module_globals)
    if not 1 <= line <= len(lines):
        return []
    first, last = max(1, line - CONTEXT), min(len(lines), line + CONTEXT)
    return [(number, lines[number - 1].rstrip("\r\n")) for number in range(first, last + 1)]


def _values(scope):
    return {name: _short(revdebug._saferepr(value)) for name, value in sorted(scope.items())}


def failure_of(exc_info):
    """`Type: message` of an exception, on one line, for a log."""
    lines = traceback.format_exception_only(exc_info[0], exc_info[1])
    text = lines[-1].strip() if lines else exc_info[0].__name__
    text = "".join(c if c.isprintable() else " " for c in text)
    if len(text) > MAX_FAILURE:
        text = text[:MAX_FAILURE] + "..."
    return text


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
                self.frames.append(Frame(frame, tb.tb_lineno))
            tb = tb.tb_next
        self.traceback = "".join(traceback.format_exception(*exc_info))

    @contextlib.contextmanager
    def restored(self):
        """The request's registry state restored in this thread, when it
        saved one; a request that registered nothing has none, and its
        proxies answer live, as outside a restoration."""
        if self.debug_id not in restorer.saved_registry_states:
            yield
            return
        restorer.restoration_begin(self.debug_id)
        try:
            yield
        finally:
            restorer.restoration_end()

    def describe(self):
        """The frames, for the page and as JSON; values are shown as the
        request had them, its registered objects restored."""
        with self.restored():
            return self._describe()

    def _describe(self):
        return [
            {
                "index": index,
                "function": frame.frame.f_code.co_name,
                "file": frame.frame.f_code.co_filename,
                "line": frame.line,
                "source": [{"line": number, "text": text} for number, text in frame.source],
                "locals": _values(frame.locals),
                "repl": _values(frame.repl_names()),
            }
            for index, frame in enumerate(self.frames)
        ]

    def evaluate(self, index, source):
        """Runs `source` in frame `index`, REPL-style, with the request's
        registry state restored: the text it printed, expression values
        echoed, an exception's traceback. What it binds goes to the frame's
        prompt namespace."""
        frame = self.frames[index]
        namespace = frame.namespace
        out = io.StringIO()
        saved = sys.stdout, sys.stderr, sys.displayhook

        def echo(value):
            if value is not None:
                namespace["_"] = value
                out.write(repr(value) + "\n")

        with self.restored():
            sys.stdout = sys.stderr = out
            sys.displayhook = echo
            try:
                code = compile(source, "<debugger>", "single")
                exec(code, frame.frame.f_globals, namespace)
            except SystemExit:
                out.write("SystemExit is not allowed here\n")
            except BaseException:
                etype, value, tb = sys.exc_info()
                out.write("".join(traceback.format_exception(etype, value, tb.tb_next)))
            finally:
                sys.stdout, sys.stderr, sys.displayhook = saved
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
        environ["revdebug.failure"] = failure_of(exc_info)
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
    innermost = len(info.frames) - 1
    for frame in info.describe():
        current = ""
        lines = []
        for line in frame["source"]:
            mark = line["line"] == frame["line"]
            if mark:
                current = line["text"].strip()
            lines.append(
                '<span class="line%s">%5d %s %s</span>'
                % (" current" if mark else "", line["line"], "&gt;" if mark else " ",
                   html.escape(line["text"]))
            )
        frames.append(_FRAME % {
            "index": frame["index"],
            "open": " open" if frame["index"] == innermost else "",
            "function": html.escape(frame["function"]),
            "file": html.escape(frame["file"]),
            "line": frame["line"],
            "current": html.escape(current),
            "source": "".join(lines) or "(no source)",
            "locals": _rows(frame["locals"]) or '<tr><td>no locals</td></tr>',
            "repl": _rows(frame["repl"]),
        })
    return _PAGE % {
        "id": html.escape(str(info.debug_id)),
        "type": html.escape(info.exc_type.__name__),
        "message": html.escape(str(info.exc_value)),
        "request": html.escape("%s %s" % (info.method, info.path)),
        "frames": "".join(frames),
        "traceback": html.escape(info.traceback),
    }


def _rows(values):
    return "".join(
        "<tr><th>%s</th><td><code>%s</code></td></tr>" % (html.escape(name), html.escape(value))
        for name, value in values.items()
    )


# A frame: its summary names the function, the file and the line, and shows
# the line's code; opened, it shows the source around that line, the locals
# the frame had, the names made at its prompt (when there are any) and the
# prompt. The innermost frame, where the exception was raised, starts open.
_FRAME = """<details class="frame" id="frame-%(index)d" data-frame="%(index)d"%(open)s>
<summary><b>%(function)s</b> in <code>%(file)s</code>, line %(line)d: <code class="code">%(current)s</code></summary>
<pre class="source">%(source)s</pre>
<table class="locals"><caption>Locals of the frame</caption>%(locals)s</table>
<table class="repl"><caption>Made at this prompt</caption>%(repl)s</table>
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
details.frame[open] > summary { margin-bottom: .3em; }
pre.source { background: #f6f6f6; margin: .3em 0; padding: .2em 0; }
pre.source span.line { display: block; }
pre.source span.current { background: #ffe9a8; font-weight: bold; }
table caption { text-align: left; font-size: smaller; color: #555; }
table.locals th, table.repl th { text-align: left; padding-right: 1em; vertical-align: top; }
table.repl:not(:has(tr)) { display: none; }
pre.output { background: #f6f6f6; margin: .3em 0; white-space: pre-wrap; }
pre.output:empty { display: none; }
input.eval { width: 80%%; font-family: monospace; }
</style></head>
<body data-debug-id="%(id)s">
<h1>%(type)s: %(message)s</h1>
<p>Request <code>%(request)s</code>, debug id <code>%(id)s</code>. The frame
where the exception was raised is open; open another to see its source, its
locals and a prompt that evaluates Python in it, with the request's objects
restored. What the prompt makes is listed apart from the frame's locals. Up
and Down recall earlier input.</p>
%(frames)s
<h2>Traceback</h2>
<pre>%(traceback)s</pre>
<script>
(function () {
  var id = document.body.dataset.debugId;
  var history = [];
  function cell(tag, text, inner) {
    var element = document.createElement(tag);
    if (inner) {
      var code = document.createElement("code");
      code.textContent = text;
      element.appendChild(code);
    } else {
      element.textContent = text;
    }
    return element;
  }
  // The names a frame's prompt made, as the server now has them.
  function refresh(details, frame) {
    fetch("/_debug/frames/" + encodeURIComponent(id), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (frames) {
        var table = details.querySelector("table.repl");
        var caption = table.querySelector("caption");
        table.replaceChildren(caption);
        var names = frames[frame].repl;
        Object.keys(names).forEach(function (name) {
          var row = document.createElement("tr");
          row.appendChild(cell("th", name, false));
          row.appendChild(cell("td", names[name], true));
          table.appendChild(row);
        });
      });
  }
  document.querySelectorAll("input.eval").forEach(function (input) {
    var details = input.closest("details");
    var frame = details.dataset.frame;
    var output = details.querySelector("pre.output");
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
          refresh(details, frame);
        });
    });
  });
})();
</script>
</body></html>
"""
