"""Request-scoped objects and their restoration for post-mortem debugging.

The names and the behaviour are Python Paste's `paste.registry`, so that
code written for it ports by changing one import:

    from revdebug.registry import RegistryManager, StackedObjectProxy, restorer

- A `StackedObjectProxy` stands for "the current X" (the request, the
  session...): each use is forwarded to the object at the top of its stack,
  which is per thread.
- A `Registry` is one per request (`environ['paste.registry']`); each
  `RegistryManager` in the WSGI stack opens a context in it (`prepare`), in
  which `register` pushes an object on a proxy, and closes it (`cleanup`)
  when its application returns, popping what that context pushed.
- `restorer`, the module's `StackedObjectRestorer`, keeps the registry state
  of a request that failed with an unexpected exception, so that the
  debugger can later evaluate code in its frames with every proxy answering
  as it did in that request.

`tests/all/paste_registry/checks.py` runs the same checks on this module and
on Paste's, and they must agree.
"""

import itertools
import threading

__all__ = [
    "StackedObjectProxy", "Registry", "RegistryManager",
    "StackedObjectRestorer", "restorer",
]


class _NoDefault:
    def __repr__(self):
        return "<no default>"


_NO_DEFAULT = _NoDefault()


def _objects(proxy):
    """This thread's stack of `proxy`, or None before its first push here."""
    return getattr(proxy.__dict__["____local__"], "objects", None)


class StackedObjectProxy:
    """Forwards every use to the top object of a per-thread stack.

    With nothing pushed, the `default` given at creation answers; without
    one, any use of the object raises TypeError, `bool()` included. The
    proxy's own `repr` (and so its `str`) says so instead of raising;
    equality and hashing are the proxy's own, as in Paste.

    The proxy keeps its state in its instance dictionary under names no
    proxied object uses (`____name__`, `____local__`,
    `____default_object__`): every other attribute is the object's.
    """

    def __init__(self, default=_NO_DEFAULT, name="Default"):
        self.__dict__["____name__"] = name
        self.__dict__["____local__"] = threading.local()
        if default is not _NO_DEFAULT:
            self.__dict__["____default_object__"] = default

    def _current_obj(self):
        """The object this proxy stands for: the top of this thread's
        stack, else the default, else TypeError."""
        objects = _objects(self)
        if objects:
            return objects[-1]
        default = self.__dict__.get("____default_object__", _NO_DEFAULT)
        if default is not _NO_DEFAULT:
            return default
        raise TypeError(
            "No object (name: %s) has been registered for this thread"
            % self.__dict__["____name__"]
        )

    def _push_object(self, obj):
        """Makes `obj` the current object of this thread."""
        objects = _objects(self)
        if objects is None:
            objects = self.__dict__["____local__"].objects = []
        objects.append(obj)

    def _pop_object(self, obj=None):
        """Removes the current object of this thread. When `obj` is given
        (and true), the object removed must be it."""
        objects = _objects(self)
        if objects is None:
            raise AssertionError("No object has been registered for this thread")
        # An emptied stack raises IndexError, as Paste's does.
        popped = objects.pop()
        if obj and popped is not obj:
            raise AssertionError(
                "The object popped (%s) is not the same as the object "
                "expected (%s)" % (popped, obj)
            )

    def _object_stack(self):
        """A copy of this thread's stack, bottom first."""
        return list(_objects(self) or ())

    # While restoration is enabled on a proxy (`StackedObjectRestorer.
    # enable_restoration`, once its state was saved), these answer for the
    # three methods above, which stay reachable as `_current_obj_orig` and
    # so on: a thread that restores a request sees that request's objects,
    # and its pushes and pops do nothing.

    def _current_obj_restoration(self):
        request_id = restorer.in_restoration()
        if request_id:
            return restorer.get_saved_proxied_obj(self, request_id)
        return self._current_obj_orig()

    def _push_object_restoration(self, obj):
        if not restorer.in_restoration():
            self._push_object_orig(obj)

    def _pop_object_restoration(self, obj=None):
        if not restorer.in_restoration():
            self._pop_object_orig(obj)

    # Every other use is the current object's.

    def __getattr__(self, attr):
        return getattr(self._current_obj(), attr)

    def __setattr__(self, attr, value):
        setattr(self._current_obj(), attr, value)

    def __delattr__(self, attr):
        delattr(self._current_obj(), attr)

    def __getitem__(self, key):
        return self._current_obj()[key]

    def __setitem__(self, key, value):
        self._current_obj()[key] = value

    def __delitem__(self, key):
        del self._current_obj()[key]

    def __call__(self, *args, **kwargs):
        return self._current_obj()(*args, **kwargs)

    def __iter__(self):
        return iter(self._current_obj())

    def __len__(self):
        return len(self._current_obj())

    def __contains__(self, key):
        return key in self._current_obj()

    def __bool__(self):
        return bool(self._current_obj())

    def __dir__(self):
        names = set(dir(type(self))) | set(self.__dict__)
        try:
            names |= set(dir(self._current_obj()))
        except TypeError:
            pass
        return sorted(names)

    def __repr__(self):
        try:
            return repr(self._current_obj())
        except (TypeError, AttributeError):
            return "<%s.%s object at 0x%x>" % (
                type(self).__module__, type(self).__name__, id(self))


class Registry:
    """The objects a request registered, one context per RegistryManager.

    `reglist[-1]` is the innermost context: a dict from the id of each proxy
    registered in it to `(proxy, object)`.
    """

    def __init__(self):
        self.reglist = []

    def prepare(self):
        """Opens a context (a RegistryManager does, on the way in)."""
        self.reglist.append({})

    def register(self, stacked, obj):
        """Makes `obj` the current object of `stacked`; an object this
        context already registered for it is replaced, not stacked."""
        context = self.reglist[-1]
        key = id(stacked)
        if key in context:
            stacked._pop_object(context[key][1])
            del context[key]
        stacked._push_object(obj)
        context[key] = (stacked, obj)

    replace = register

    def multiregister(self, stacklist):
        """`register` for each `(proxy, object)` pair."""
        for stacked, obj in stacklist:
            self.register(stacked, obj)

    def cleanup(self):
        """Closes the innermost context, popping everything it registered."""
        for stacked, obj in self.reglist[-1].values():
            stacked._pop_object(obj)
        self.reglist.pop()


class RegistryManager:
    """WSGI middleware: one Registry per request, shared by every manager in
    the stack, each with its own context.

    When the application raises an Exception and the debugging layer is in
    the stack (`environ['paste.evalexception']`), an exception that is not
    one of the request's expected ones (`environ['paste.expected_exceptions']`)
    has the registry state saved for the debugger before the context is
    cleaned up. The innermost manager sees the exception first, so its save
    is the one kept. What is not an Exception (SystemExit,
    KeyboardInterrupt, GeneratorExit) passes through with the context left
    as it is, as in Paste.
    """

    def __init__(self, application, streaming=False):
        self.application = application
        self.streaming = streaming

    def __call__(self, environ, start_response):
        registry = environ.setdefault("paste.registry", Registry())
        registry.prepare()
        if self.streaming:
            return self._streaming(registry, environ, start_response)
        try:
            app_iter = self.application(environ, start_response)
        except Exception as error:
            _failed(environ, error)
            registry.cleanup()
            raise
        registry.cleanup()
        return app_iter

    def _streaming(self, registry, environ, start_response):
        try:
            for chunk in self.application(environ, start_response):
                yield chunk
        except Exception as error:
            _failed(environ, error)
            registry.cleanup()
            raise
        registry.cleanup()


def _failed(environ, error):
    """Saves the registry state of a request that failed unexpectedly under
    the debugger."""
    if not environ.get("paste.evalexception"):
        return
    for kind in environ.get("paste.expected_exceptions", ()):
        if isinstance(error, kind):
            return
    restorer.save_registry_state(environ)


# Request ids for requests whose environ has none, numbered as Paste's
# EvalException numbers them. `rewind serve` (`revdebug.serve.main`) sets a
# prefix that names its worker, so that a debug page goes to the worker that
# kept the request.
_request_ids = itertools.count(1)
_request_id_prefix = None


class StackedObjectRestorer:
    """Keeps the registry state of failed requests, by request id, and
    answers for it while a thread restores one of them.

    The saved state is the request's registry contexts themselves, and a
    restoration points the request's registry at it: registry changes made
    while restoring (`prepare`, `register`, `cleanup`) change the saved
    state, and the next restoration sees them.
    """

    def __init__(self):
        # request id -> (the request's Registry, its list of contexts)
        self.saved_registry_states = {}
        self.restoration_context_id = threading.local()

    def save_registry_state(self, environ):
        """Saves the request's registry contexts, once per request id: a
        second save (an outer manager seeing the same exception) changes
        nothing. Every proxy registered in them consults the restorer from
        now on."""
        registry = environ.get("paste.registry")
        if not registry or not registry.reglist:
            return
        request_id = self.get_request_id(environ)
        if request_id in self.saved_registry_states:
            return
        # A new list of the same contexts: the manager's cleanup pops the
        # registry's list, not this one.
        self.saved_registry_states[request_id] = (registry, registry.reglist[:])
        for context in registry.reglist:
            for stacked, _ in context.values():
                self.enable_restoration(stacked)

    def get_saved_proxied_obj(self, stacked, request_id):
        """The object `stacked` had in request `request_id` (KeyError when
        that request was not saved): the innermost saved context that
        registered it wins; when none did, the live object."""
        reglist = self.saved_registry_states[request_id][1]
        key = id(stacked)
        for context in reversed(reglist):
            if key in context:
                return context[key][1]
        return stacked._current_obj_orig()

    def enable_restoration(self, stacked):
        """Makes `stacked` consult the restorer while a thread restores:
        its `_current_obj`, `_push_object` and `_pop_object` become the
        restoration ones, the originals kept as `..._orig`."""
        state = stacked.__dict__
        if "_current_obj_orig" in state:
            return
        for name in ("_current_obj", "_push_object", "_pop_object"):
            state[name + "_orig"] = getattr(stacked, name)
            state[name] = getattr(stacked, name + "_restoration")

    def get_request_id(self, environ):
        """The request's id (`environ['paste.evalexception.debug_count']`),
        given to it now when it has none."""
        if "paste.evalexception.debug_count" not in environ:
            number = next(_request_ids)
            if _request_id_prefix is not None:
                number = "%s%d" % (_request_id_prefix, number)
            environ["paste.evalexception.debug_count"] = number
        return environ["paste.evalexception.debug_count"]

    def restoration_begin(self, request_id):
        """Restores request `request_id` in the current thread: its
        registry holds the saved contexts again, proxies answer as they did
        in it, and pushes and pops do nothing."""
        if request_id in self.saved_registry_states:
            registry, reglist = self.saved_registry_states[request_id]
            registry.reglist = reglist
        self.restoration_context_id.request_id = request_id

    def restoration_end(self):
        """Ends the current thread's restoration; without one, nothing."""
        try:
            del self.restoration_context_id.request_id
        # RustPython's thread-local objects raise KeyError for a missing
        # attribute, CPython's AttributeError.
        except (AttributeError, KeyError):
            pass

    def in_restoration(self):
        """The id of the request the current thread restores, or False."""
        return getattr(self.restoration_context_id, "request_id", False)


restorer = StackedObjectRestorer()
