"""Python Paste's registry and restorer, as Paste documents and tests them.

The same file runs under CPython with PyPI's `paste` (`paste.registry`, and
`paste.evalexception`'s `EvalException`) and under `rewind run` with
`revdebug.registry` (and `revdebug.serve`'s `EvalException`): each check
prints `NAME: ok` or `NAME: FAIL why`, and the two outputs must be the same.
Nothing printed names the implementation or an address.
"""

import io
import re
import sys

try:
    from revdebug.registry import (
        Registry, RegistryManager, StackedObjectProxy, StackedObjectRestorer, restorer,
    )
    from revdebug.serve import EvalException
except ImportError:
    from paste.registry import (
        Registry, RegistryManager, StackedObjectProxy, StackedObjectRestorer, restorer,
    )
    from paste.evalexception.middleware import EvalException

CHECKS = []


def check(function):
    CHECKS.append(function)
    return function


def raises(kind, function, *args):
    """The message of the `kind` exception `function(*args)` raises."""
    try:
        function(*args)
    except kind as error:
        return str(error)
    raise AssertionError("no %s" % kind.__name__)


def no_object(name):
    return "No object (name: %s) has been registered for this thread" % name


def start_response(status, headers, exc_info=None):
    start_response.status = status
    start_response.headers = dict(headers)


def environ_for(**extra):
    """A request's environ, with what either EvalException needs."""
    environ = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/",
        "QUERY_STRING": "", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
        "HTTP_HOST": "localhost", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    environ.update(extra)
    return environ


def registering(proxy, obj, fail=None):
    """An application that registers `obj` for `proxy` and then raises
    `fail`, or answers with the proxy's `str`."""
    def application(environ, start_response):
        environ["paste.registry"].register(proxy, obj)
        if fail is not None:
            raise fail
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(proxy).encode()]
    return application


def middleman(application, proxy, obj, seen):
    """Middleware that registers `obj` in its own manager's context and
    notes what `proxy` is before and after the application below it."""
    def middle(environ, start_response):
        environ["paste.registry"].register(proxy, obj)
        seen.append(("before", proxy._current_obj()))
        body = list(application(environ, start_response))
        seen.append(("after", proxy._current_obj()))
        return body
    return middle


def evalexception_layer(application):
    """What an EvalException does around an application, for the registry:
    it says it is there, and on an unexpected exception saves the request's
    registry state."""
    def layer(environ, start_response):
        environ["paste.evalexception"] = True
        try:
            return application(environ, start_response)
        except Exception as error:
            for expected in environ.get("paste.expected_exceptions", []):
                if isinstance(error, expected):
                    raise
            restorer.save_registry_state(environ)
            return [b"failed"]
    return layer


def fail_request(proxy, obj, environ=None):
    """A request that registers `obj` for `proxy` and fails unexpectedly
    under the debugger: its environ."""
    environ = environ if environ is not None else {}
    evalexception_layer(RegistryManager(registering(proxy, obj, ValueError("boom"))))(
        environ, start_response)
    return environ


# StackedObjectProxy


@check
def empty_proxy_raises_type_error_on_use():
    proxy = StackedObjectProxy(name="empty")
    for use in (bool, len, iter, lambda p: p.attr, lambda p: p["key"],
                lambda p: p(), lambda p: "x" in p, lambda p: p._current_obj()):
        assert raises(TypeError, use, proxy) == no_object("empty")


@check
def empty_proxy_default_name():
    assert raises(TypeError, len, StackedObjectProxy()) == no_object("Default")


@check
def empty_proxy_repr_names_the_proxy():
    text = re.sub(r"0x[0-9a-f]+", "ADDR", repr(StackedObjectProxy(name="empty")))
    assert re.fullmatch(r"<[\w.]+\.StackedObjectProxy object at ADDR>", text), text


@check
def empty_proxy_str_is_its_repr():
    proxy = StackedObjectProxy(name="empty")
    assert str(proxy) == repr(proxy), str(proxy)


@check
def default_answers_with_nothing_pushed():
    proxy = StackedObjectProxy(default={"hi": "people"})
    assert proxy["hi"] == "people" and len(proxy) == 1 and bool(proxy)
    assert proxy._object_stack() == []


@check
def push_and_pop_stack():
    proxy = StackedObjectProxy(name="stack")
    first, second = {"n": 1}, {"n": 2}
    proxy._push_object(first)
    proxy._push_object(second)
    assert proxy["n"] == 2 and proxy._object_stack() == [first, second]
    proxy._pop_object(second)
    assert proxy["n"] == 1
    proxy._pop_object()
    assert raises(TypeError, len, proxy) == no_object("stack")
    assert proxy._object_stack() == []


@check
def object_stack_is_a_copy():
    proxy = StackedObjectProxy()
    proxy._push_object("a")
    proxy._object_stack().append("b")
    assert proxy._object_stack() == ["a"]


@check
def pop_checks_the_object_expected():
    proxy = StackedObjectProxy()
    pushed, other = ["pushed"], ["other"]
    proxy._push_object(pushed)
    message = raises(AssertionError, proxy._pop_object, other)
    assert message == (
        "The object popped (['pushed']) is not the same as the object expected (['other'])"
    ), message
    # The object was popped all the same.
    assert proxy._object_stack() == []


@check
def pop_does_not_check_a_false_object():
    proxy = StackedObjectProxy()
    proxy._push_object({"a": 1})
    proxy._pop_object({})
    assert proxy._object_stack() == []


@check
def pop_before_any_push_is_an_assertion():
    proxy = StackedObjectProxy()
    message = raises(AssertionError, proxy._pop_object)
    assert message == "No object has been registered for this thread", message


@check
def pop_of_an_emptied_stack_is_an_index_error():
    proxy = StackedObjectProxy()
    proxy._push_object(1)
    proxy._pop_object()
    raises(IndexError, proxy._pop_object)


@check
def every_use_is_forwarded():
    class Thing:
        def __call__(self, *args, **kwargs):
            return args, kwargs

    thing = Thing()
    proxy = StackedObjectProxy()
    proxy._push_object(thing)
    proxy.colour = "red"
    assert thing.colour == "red" and proxy.colour == "red"
    del proxy.colour
    assert not hasattr(thing, "colour")
    assert proxy(1, k=2) == ((1,), {"k": 2})
    items = {}
    proxy._push_object(items)
    proxy["a"] = 1
    assert items == {"a": 1} and "a" in proxy and list(proxy) == ["a"] and len(proxy) == 1
    del proxy["a"]
    assert items == {} and not proxy


@check
def repr_and_str_are_the_objects_repr():
    proxy = StackedObjectProxy()
    proxy._push_object("text")
    assert repr(proxy) == "'text'" and str(proxy) == "'text'", (repr(proxy), str(proxy))


@check
def equality_and_hash_are_the_proxys_own():
    proxy = StackedObjectProxy()
    proxy._push_object({"a": 1})
    assert proxy == proxy and not (proxy == {"a": 1}) and proxy != {"a": 1}
    assert hash(proxy) == hash(proxy)


@check
def dir_lists_the_objects_names():
    proxy = StackedObjectProxy()
    assert "_current_obj" in dir(proxy) and "keys" not in dir(proxy)
    proxy._push_object({})
    assert "keys" in dir(proxy) and "_push_object" in dir(proxy)


# Registry


@check
def register_replaces_in_its_context():
    proxy = StackedObjectProxy()
    registry = Registry()
    registry.prepare()
    registry.register(proxy, "first")
    registry.register(proxy, "second")
    assert proxy._object_stack() == ["second"], proxy._object_stack()
    registry.replace(proxy, "third")
    assert proxy._object_stack() == ["third"]
    registry.cleanup()
    assert proxy._object_stack() == []


@check
def contexts_stack_and_cleanup_pops_the_top_one():
    proxy, other = StackedObjectProxy(), StackedObjectProxy()
    registry = Registry()
    registry.prepare()
    registry.register(proxy, "outer")
    registry.prepare()
    registry.multiregister([(proxy, "inner"), (other, "other")])
    assert proxy._object_stack() == ["outer", "inner"] and other._object_stack() == ["other"]
    assert len(registry.reglist) == 2
    registry.cleanup()
    assert proxy._object_stack() == ["outer"] and other._object_stack() == []
    registry.cleanup()
    assert registry.reglist == [] and proxy._object_stack() == []


@check
def register_without_a_context_fails():
    raises(IndexError, Registry().register, StackedObjectProxy(), 1)


@check
def manager_registers_for_the_request():
    proxy = StackedObjectProxy(name="solo")
    app = RegistryManager(registering(proxy, {"hi": "people"}))
    environ = {}
    assert app(environ, start_response) == [b"{'hi': 'people'}"]
    assert isinstance(environ["paste.registry"], Registry)
    assert environ["paste.registry"].reglist == []
    assert raises(TypeError, len, proxy) == no_object("solo")


@check
def manager_keeps_a_given_registry():
    registry = Registry()
    environ = {"paste.registry": registry}
    RegistryManager(registering(StackedObjectProxy(), 1))(environ, start_response)
    assert environ["paste.registry"] is registry


@check
def nested_managers_share_one_registry():
    proxy = StackedObjectProxy()
    seen = []
    registries = []

    def inner(environ, start_response):
        registries.append(environ["paste.registry"])
        return registering(proxy, {"hi": "people"})(environ, start_response)

    app = RegistryManager(middleman(RegistryManager(inner), proxy, {"bye": "friends"}, seen))
    environ = {}
    body = app(environ, start_response)
    assert body == [b"{'hi': 'people'}"]
    assert seen == [("before", {"bye": "friends"}), ("after", {"bye": "friends"})], seen
    assert registries == [environ["paste.registry"]]
    assert proxy._object_stack() == []


@check
def a_deep_stack_of_managers():
    proxy = StackedObjectProxy()
    seen = []
    app = RegistryManager(registering(proxy, {"hi": "people"}))
    for depth in range(8):
        app = RegistryManager(middleman(app, proxy, {"depth": depth}, seen))
    app({}, start_response)
    befores = [obj["depth"] for when, obj in seen if when == "before"]
    afters = [obj["depth"] for when, obj in seen if when == "after"]
    assert befores == list(range(7, -1, -1)) and afters == list(range(8)), (befores, afters)
    assert proxy._object_stack() == []


@check
def streaming_manager_cleans_up_after_iteration():
    proxy = StackedObjectProxy()

    def application(environ, start_response):
        environ["paste.registry"].register(proxy, "streamed")
        yield str(proxy).encode()
        yield repr(proxy._object_stack()).encode()

    environ = {}
    body = RegistryManager(application, streaming=True)(environ, start_response)
    assert len(environ["paste.registry"].reglist) == 1
    assert list(body) == [b"'streamed'", b"['streamed']"]
    assert environ["paste.registry"].reglist == [] and proxy._object_stack() == []


@check
def manager_cleans_up_on_an_exception():
    proxy = StackedObjectProxy()
    environ = {}
    app = RegistryManager(registering(proxy, "x", KeyError("k")))
    raises(KeyError, app, environ, start_response)
    assert proxy._object_stack() == [] and environ["paste.registry"].reglist == []
    # Without the debugger, nothing is saved, and the request has no id.
    assert "paste.evalexception.debug_count" not in environ


@check
def manager_does_not_clean_up_on_a_base_exception():
    proxy = StackedObjectProxy()
    environ = {}
    app = RegistryManager(registering(proxy, "kept", SystemExit(3)))
    raises(SystemExit, app, environ, start_response)
    assert proxy._object_stack() == ["kept"], proxy._object_stack()
    assert len(environ["paste.registry"].reglist) == 1
    environ["paste.registry"].cleanup()


# StackedObjectRestorer


@check
def restorer_is_a_stacked_object_restorer():
    assert isinstance(restorer, StackedObjectRestorer)
    assert restorer.in_restoration() is False


@check
def request_id_is_given_when_the_environ_has_none():
    first, second = {}, {}
    one = restorer.get_request_id(first)
    assert one is not None and restorer.get_request_id(first) == one
    assert first["paste.evalexception.debug_count"] == one
    assert restorer.get_request_id(second) != one
    assert restorer.get_request_id({"paste.evalexception.debug_count": "given"}) == "given"


@check
def a_failure_under_the_debugger_saves_the_state():
    proxy = StackedObjectProxy(name="saved")
    environ = fail_request(proxy, {"user": "carol"})
    request_id = environ["paste.evalexception.debug_count"]
    assert request_id in restorer.saved_registry_states
    registry, reglist = restorer.saved_registry_states[request_id]
    assert registry is environ["paste.registry"]
    assert len(reglist) == 1 and list(reglist[0].values()) == [(proxy, {"user": "carol"})]
    # The request's objects were popped all the same.
    assert raises(TypeError, len, proxy) == no_object("saved")


@check
def an_expected_exception_is_not_saved():
    proxy = StackedObjectProxy()
    environ = {"paste.expected_exceptions": [LookupError]}
    app = evalexception_layer(RegistryManager(registering(proxy, "x", KeyError("k"))))
    raises(KeyError, app, environ, start_response)
    assert "paste.evalexception.debug_count" not in environ
    assert proxy._object_stack() == []


@check
def nothing_is_saved_without_a_registry_or_a_context():
    before = len(restorer.saved_registry_states)
    restorer.save_registry_state({})
    restorer.save_registry_state({"paste.registry": Registry()})
    assert len(restorer.saved_registry_states) == before


@check
def restoration_brings_the_objects_back():
    proxy = StackedObjectProxy(name="restored")
    environ = fail_request(proxy, {"user": "dave"})
    request_id = environ["paste.evalexception.debug_count"]
    restorer.restoration_begin(request_id)
    try:
        assert restorer.in_restoration() == request_id
        assert proxy["user"] == "dave" and proxy._current_obj() == {"user": "dave"}
    finally:
        restorer.restoration_end()
    assert restorer.in_restoration() is False
    assert raises(TypeError, len, proxy) == no_object("restored")
    restorer.restoration_end()
    assert restorer.in_restoration() is False


@check
def restoration_searches_the_saved_contexts_from_the_top():
    top, outer = StackedObjectProxy(), StackedObjectProxy()
    seen = []
    app = evalexception_layer(RegistryManager(middleman(
        RegistryManager(registering(top, "top", ValueError("boom"))),
        outer, "outer", seen)))
    environ = {}
    app(environ, start_response)
    request_id = environ["paste.evalexception.debug_count"]
    assert len(restorer.saved_registry_states[request_id][1]) == 2
    restorer.restoration_begin(request_id)
    try:
        assert top._current_obj() == "top" and outer._current_obj() == "outer"
    finally:
        restorer.restoration_end()


@check
def the_innermost_manager_saves_and_wins():
    proxy = StackedObjectProxy()

    def middle(environ, start_response):
        environ["paste.registry"].register(proxy, "middle")
        try:
            return RegistryManager(registering(proxy, "inner", ValueError("boom")))(
                environ, start_response)
        finally:
            # Too late: the inner manager saved the state already.
            environ["paste.registry"].reglist.append({"late": (proxy, "late")})

    environ = {}
    evalexception_layer(RegistryManager(middle))(environ, start_response)
    request_id = environ["paste.evalexception.debug_count"]
    reglist = restorer.saved_registry_states[request_id][1]
    assert [list(context) for context in reglist] == [[id(proxy)], [id(proxy)]]
    restorer.restoration_begin(request_id)
    try:
        assert proxy._current_obj() == "inner"
    finally:
        restorer.restoration_end()


@check
def saved_contexts_are_the_registrys_own():
    proxy, later = StackedObjectProxy(), StackedObjectProxy()

    def middle(environ, start_response):
        try:
            return RegistryManager(registering(proxy, "inner", ValueError("boom")))(
                environ, start_response)
        finally:
            # Registered in the outer context after the inner manager saved:
            # the saved state holds that very context.
            environ["paste.registry"].register(later, "registered later")

    # `later` restores: another request's failure enabled it.
    fail_request(later, "another request")
    environ = {}
    evalexception_layer(RegistryManager(middle))(environ, start_response)
    request_id = environ["paste.evalexception.debug_count"]
    outer_context = restorer.saved_registry_states[request_id][1][0]
    assert outer_context[id(later)] == (later, "registered later")
    restorer.restoration_begin(request_id)
    try:
        assert later._current_obj() == "registered later"
    finally:
        restorer.restoration_end()


@check
def push_and_pop_do_nothing_while_restoring():
    proxy = StackedObjectProxy()
    environ = fail_request(proxy, "saved")
    request_id = environ["paste.evalexception.debug_count"]
    restorer.restoration_begin(request_id)
    try:
        proxy._push_object("pushed")
        assert proxy._current_obj() == "saved"
        proxy._pop_object()
        proxy._pop_object()
        assert proxy._current_obj() == "saved"
    finally:
        restorer.restoration_end()
    assert proxy._object_stack() == []
    proxy._push_object("live")
    assert proxy._current_obj() == "live"
    proxy._pop_object()


@check
def a_proxy_the_request_did_not_register_answers_live():
    saved = StackedObjectProxy(name="saved")
    with_default = StackedObjectProxy(default="default", name="with_default")
    without = StackedObjectProxy(name="without")
    environ = fail_request(saved, "saved")
    # Restoration is enabled on these two by another request's failure.
    fail_request(with_default, "other request")
    fail_request(without, "other request")
    request_id = environ["paste.evalexception.debug_count"]
    restorer.restoration_begin(request_id)
    try:
        assert with_default._current_obj() == "default"
        assert raises(TypeError, len, without) == no_object("without")
    finally:
        restorer.restoration_end()


@check
def restoration_of_an_unsaved_request_is_a_key_error_for_restored_proxies():
    proxy = StackedObjectProxy(default="default")
    fail_request(proxy, "saved")
    fresh = StackedObjectProxy(default="fresh")
    restorer.restoration_begin("never saved")
    try:
        assert restorer.in_restoration() == "never saved"
        raises(KeyError, proxy._current_obj)
        assert fresh._current_obj() == "fresh"
    finally:
        restorer.restoration_end()


@check
def restoration_without_any_registry_is_harmless():
    restorer.restoration_begin(1)
    try:
        assert restorer.in_restoration() == 1
    finally:
        restorer.restoration_end()
        restorer.restoration_end()
    assert restorer.in_restoration() is False


@check
def restoration_points_the_registry_at_the_saved_state():
    proxy = StackedObjectProxy()
    environ = fail_request(proxy, "saved")
    request_id = environ["paste.evalexception.debug_count"]
    registry = environ["paste.registry"]
    restorer.restoration_begin(request_id)
    try:
        assert registry.reglist is restorer.saved_registry_states[request_id][1]
    finally:
        restorer.restoration_end()


@check
def registry_changes_while_restoring_act_on_the_saved_state():
    # Paste's own _test_restorer.
    proxy = StackedObjectProxy(name="restored")
    environ = fail_request(proxy, {"top": "of the registry stack"})
    request_id = environ["paste.evalexception.debug_count"]
    registry = environ["paste.registry"]
    restorer.restoration_begin(request_id)
    try:
        assert "top" in proxy and proxy["top"] == "of the registry stack"
        registry.prepare()
        registry.register(proxy, {"new": "object"})
        assert "new" in proxy and proxy["new"] == "object"
        registry.cleanup()
        assert "top" in proxy and proxy["top"] == "of the registry stack"
        registry.replace(proxy, {"replace": "dict"})
        assert "replace" in proxy and proxy["replace"] == "dict"
    finally:
        restorer.restoration_end()
    # The replacement is the saved state now, for the next restoration too.
    restorer.restoration_begin(request_id)
    try:
        assert proxy["replace"] == "dict"
        registry.cleanup()
        assert raises(TypeError, proxy._current_obj) == no_object("restored")
    finally:
        restorer.restoration_end()
    assert restorer.saved_registry_states[request_id][1] == []
    # No live stack was touched.
    assert proxy._object_stack() == []


@check
def the_evalexception_saves_when_the_manager_is_outside_it():
    proxy = StackedObjectProxy(name="outside")
    registry = Registry()
    environ = environ_for(**{"paste.registry": registry})
    request_id = restorer.get_request_id(environ)
    app = RegistryManager(EvalException(registering(proxy, {"where": "outside"}, Exception())))
    app(environ, start_response)
    assert start_response.status.startswith("500"), start_response.status
    assert "X-Debug-URL" in start_response.headers
    assert environ["paste.evalexception.debug_count"] == request_id
    assert raises(TypeError, len, proxy) == no_object("outside")
    restorer.restoration_begin(request_id)
    try:
        assert proxy["where"] == "outside"
        registry.prepare()
        registry.register(proxy, {"new": "object"})
        assert proxy["new"] == "object"
        registry.cleanup()
        registry.cleanup()
        assert raises(TypeError, proxy._current_obj) == no_object("outside")
    finally:
        restorer.restoration_end()


@check
def the_evalexception_with_the_manager_inside_it():
    proxy = StackedObjectProxy(name="inside")
    environ = environ_for()
    app = EvalException(RegistryManager(registering(proxy, {"where": "inside"}, Exception())))
    app(environ, start_response)
    assert start_response.status.startswith("500"), start_response.status
    request_id = environ["paste.evalexception.debug_count"]
    assert environ["paste.evalexception"] is app
    restorer.restoration_begin(request_id)
    try:
        assert proxy["where"] == "inside"
    finally:
        restorer.restoration_end()


@check
def the_evalexception_raises_expected_exceptions_on():
    proxy = StackedObjectProxy()
    environ = environ_for(**{"paste.expected_exceptions": [KeyError]})
    app = EvalException(RegistryManager(registering(proxy, "x", KeyError("k"))))
    raises(KeyError, app, environ, start_response)
    assert "paste.evalexception.debug_count" not in environ
    assert proxy._object_stack() == []


def main():
    passed = 0
    for function in CHECKS:
        try:
            function()
        except Exception as error:
            print("%s: FAIL %s: %s" % (function.__name__, type(error).__name__, error))
        else:
            print("%s: ok" % function.__name__)
            passed += 1
        finally:
            while restorer.in_restoration() is not False:
                restorer.restoration_end()
    print("%d of %d checks pass" % (passed, len(CHECKS)))


main()
