# The Python half of `_decimal` (see mod.rs): `_pydecimal`'s code, run in
# this module, with its Decimal class rebuilt on the native _DecimalBase.
import _imp

_native_dec_from_triple = _dec_from_triple
exec(_imp.get_frozen_object('_pydecimal'), globals())
# _pydecimal's own makes its instances with object.__new__.
_dec_from_triple = _native_dec_from_triple
del _native_dec_from_triple


def _rebuild():
    """Decimal on the native base: _pydecimal's methods, except the ones the
    base does natively, which fall back to these Python ones for what they
    leave (infinities, NaNs, foreign operand types, invalid operations)."""
    native = {
        '__add__': '_add', '__radd__': '_add',
        '__sub__': '_sub', '__rsub__': '_rsub',
        '__mul__': '_mul', '__rmul__': '_mul',
        '__truediv__': '_truediv', '__rtruediv__': '_rtruediv',
        '__neg__': '_neg', '__pos__': '_pos', '__abs__': '_abs',
        '__eq__': '_eq', '__lt__': '_lt', '__le__': '_le',
        '__gt__': '_gt', '__ge__': '_ge',
        '__hash__': '_hash', '__bool__': '_bool',
        '__str__': '_str', '__repr__': '_repr', '__format__': '_format',
        'quantize': '_quantize',
        '__floordiv__': '_floordiv', '__rfloordiv__': '_rfloordiv',
        '__mod__': '_mod', '__rmod__': '_rmod', '__pow__': '_pow',
        'normalize': '_normalize',
        'to_integral_value': '_to_integral_value',
        'to_integral': '_to_integral',
    }
    python = Decimal
    body = {}
    for name, value in python.__dict__.items():
        if name not in ('__slots__', '__dict__', '__weakref__', '__new__',
                        '_exp', '_int', '_sign', '_is_special'):
            body[name] = value
    fallbacks = {}
    for name, base_name in native.items():
        fallbacks[name] = body[name]
        body[name] = getattr(_DecimalBase, base_name)
    body['__slots__'] = ()
    cls = type('Decimal', (_DecimalBase,), body)
    return python, cls, fallbacks


def _watch_contexts():
    """The native side keeps what it read of a context until one changes:
    every change to a context's attributes goes through __setattr__, and
    every change of the current context through setcontext (getcontext
    sets the variable itself only when it had none)."""
    set_attribute = Context.__setattr__
    set_context = setcontext

    def __setattr__(self, name, value):
        try:
            return set_attribute(self, name, value)
        finally:
            _context_changed()

    def watched_setcontext(context):
        try:
            return set_context(context)
        finally:
            _context_changed()

    watched_setcontext.__name__ = watched_setcontext.__qualname__ = 'setcontext'
    watched_setcontext.__doc__ = set_context.__doc__
    Context.__setattr__ = __setattr__
    return watched_setcontext


setcontext = _watch_contexts()
del _watch_contexts

_PyDecimal, Decimal, _fallbacks = _rebuild()
_register(Decimal, _PyDecimal, _PyDecimal.__dict__['__new__'].__func__,
          _current_context_var, getcontext, globals(), _fallbacks)
del _rebuild, _fallbacks

# The constants _pydecimal made with its own class, made again.
_Infinity = Decimal('Inf')
_NegativeInfinity = Decimal('-Inf')
_NaN = Decimal('NaN')
_Zero = Decimal(0)
_One = Decimal(1)
_NegativeOne = Decimal(-1)
_SignedInfinity = (_Infinity, _NegativeInfinity)

import numbers as _numbers_register
_numbers_register.Number.register(Decimal)
del _numbers_register
