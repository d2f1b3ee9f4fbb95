"""Request-scoped objects and their restoration for post-mortem debugging.

The names and the behaviour follow Python Paste's `paste.registry`, so that
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
"""

import threading

__all__ = [
    "StackedObjectProxy", "Registry", "RegistryManager",
    "StackedObjectRestorer", "restorer",
]


class _NoDefault:
    def __repr__(self):
        return "<no default>"


_NO_DEFAULT = _NoDefault()


class StackedObjectProxy:
    """Forwards every use to the top object of a per-thread stack.

    With nothing pushed, the `default` given at creation answers; without
    one, any use raises TypeError, `bool()` included.
    """

    def __init__(self, default=_NO_DEFAULT, name="Default"):
        object.__setattr__(self, "____name__", name)
        object.__setattr__(self, "____local__", threading.local())
        object.__setattr__(self, "____default_object__", default)
        object.__setattr__(self, "_restoration", False)

    # The stack.

    def _stack(self):
        local = object.__getattribute__(self, "____local__")
        stack = getattr(local, "objects", None)
        if stack is None:
            stack = []
            local.objects = stack
        return stack

    def _current_obj_orig(self):
        """The live object: the top of this thread's stack, else the
        default, else TypeError."""
        stack = object.__getattribute__(self, "_stack")()
        if stack:
            return stack[-1]
        default = object.__getattribute__(self, "____default_object__")
        if default is not _NO_DEFAULT:
            return default
        name = object.__getattribute__(self, "____name__")
        raise TypeError(
            "No object (name: %s) has been registered for this thread" % name
        )

    def _current_obj(self):
        """The object this proxy stands for now. While the current thread
        restores a failed request (`restorer.restoration_begin`), the object
        it had in that request."""
        if object.__getattribute__(self, "_restoration"):
            request_id = restorer.in_restoration()
            if request_id is not False:
                return restorer.get_saved_proxied_obj(self, request_id)
        return object.__getattribute__(self, "_current_obj_orig")()

    def _push_object(self, obj):
        """Makes `obj` the current object of this thread. Nothing happens
        while restoring: the restorer keeps the stacks then."""
        if object.__getattribute__(self, "_restoration") and restorer.in_restoration() is not False:
            return
        object.__getattribute__(self, "_stack")().append(obj)

    def _pop_object(self, obj=None):
        """Removes the current object; when `obj` is given, it must be the
        current one. Nothing happens while restoring."""
        if object.__getattribute__(self, "_restoration") and restorer.in_restoration() is not False:
            return
        stack = object.__getattribute__(self, "_stack")()
        if not stack:
            raise AssertionError("No object has been registered for this thread")
        popped = stack.pop()
        if obj is not None and popped is not obj:
            raise AssertionError(
                "The object popped (%r) is not the same as the object "
                "expected (%r)" % (popped, obj)
            )

    def _object_stack(self):
        """A copy of this thread's stack, bottom first."""
        return list(object.__getattribute__(self, "_stack")())

    # Everything else is the current object's.

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

    def __eq__(self, other):
        return self._current_obj() == other

    def __ne__(self, other):
        return self._current_obj() != other

    def __hash__(self):
        return hash(self._current_obj())

    def __str__(self):
        return str(self._current_obj())

    def __dir__(self):
        return sorted(set(dir(self.__class__)) | set(dir(self._current_obj())))

    def __repr__(self):
        try:
            return repr(self._current_obj())
        except (TypeError, AttributeError):
            name = object.__getattribute__(self, "____name__")
            return "<%s.%s object at 0x%x>" % (__name__, name, id(self))


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


def _expected(environ, error):
    for kind in environ.get("paste.expected_exceptions", ()):
        if isinstance(error, kind):
            return True
    return False


class RegistryManager:
    """WSGI middleware: one Registry per request, shared by every manager in
    the stack, each with its own context.

    When the application raises and the debugging layer is in the stack
    (`environ['paste.evalexception']`), an exception that is not one of the
    request's expected ones (`environ['paste.expected_exceptions']`) has the
    registry state saved for the debugger before the context is cleaned up.
    The innermost manager sees the exception first, so its save is the one
    kept.
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
        except BaseException as error:
            self._failed(environ, error)
            registry.cleanup()
            raise
        registry.cleanup()
        return app_iter

    def _streaming(self, registry, environ, start_response):
        try:
            for chunk in self.application(environ, start_response):
                yield chunk
        except BaseException as error:
            self._failed(environ, error)
            registry.cleanup()
            raise
        registry.cleanup()

    @staticmethod
    def _failed(environ, error):
        if environ.get("paste.evalexception") and not _expected(environ, error):
            restorer.save_registry_state(environ)


class StackedObjectRestorer:
    """Keeps the registry state of failed requests, by request id, and
    answers for it while a thread restores one of them."""

    def __init__(self):
        self.saved_registry_states = {}
        self.restoration_context_id = threading.local()

    def save_registry_state(self, environ):
        """Saves the request's registry contexts, once per request: a second
        save (an outer manager seeing the same exception) changes nothing.
        Every proxy registered in them answers from the saved state while
        its request is restored."""
        registry = environ.get("paste.registry")
        if not registry or not registry.reglist:
            return
        request_id = self.get_request_id(environ)
        if request_id in self.saved_registry_states:
            return
        saved = [dict(context) for context in registry.reglist]
        self.saved_registry_states[request_id] = (registry, saved)
        for context in saved:
            for stacked, _ in context.values():
                self.enable_restoration(stacked)

    def get_saved_proxied_obj(self, stacked, request_id):
        """The object `stacked` had in request `request_id`: the innermost
        saved context that registered it wins; when none did, the live
        object (the stack, then the default, then TypeError)."""
        state = self.saved_registry_states.get(request_id)
        if state is not None:
            key = id(stacked)
            for context in reversed(state[1]):
                if key in context:
                    return context[key][1]
        return stacked._current_obj_orig()

    def enable_restoration(self, stacked):
        """Makes `stacked` consult the restorer while restoring."""
        object.__setattr__(stacked, "_restoration", True)

    def get_request_id(self, environ):
        """The request's debug id, as the debugging layer numbers requests."""
        return environ.get("paste.evalexception.debug_count")

    def restoration_begin(self, request_id):
        """Restores request `request_id` in the current thread: proxies
        answer as they did in it, and pushes and pops do nothing."""
        state = self.saved_registry_states.get(request_id)
        if state is not None:
            registry, saved = state
            registry.reglist = [dict(context) for context in saved]
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
