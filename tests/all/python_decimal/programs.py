# Representative decimal use, printed so that any difference from CPython
# shows: arithmetic and rounding, contexts, signals and flags, special
# values, comparisons and hashing across numeric types, formatting,
# pickling and subclasses.
import copy
import decimal
import math
import pickle
from decimal import (Decimal as D, Context, localcontext, getcontext,
                     ROUND_HALF_UP, ROUND_HALF_EVEN, ROUND_DOWN, ROUND_UP,
                     ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_05UP)
from fractions import Fraction


def show(label, fn):
    try:
        value = fn()
    except Exception as error:
        value = 'raised ' + type(error).__name__
    print(label, repr(value))


def flags(ctx):
    return sorted(s.__name__ for s, on in ctx.flags.items() if on)


# Arithmetic, exact and rounded, with the flags each raises.
ctx = Context(prec=9)
for a, b in [('1', '3'), ('1.00', '4'), ('2.5', '-0.5'), ('1E+10', '1E-10'),
             ('123456789', '987654321'), ('0.1', '0.2'), ('-0', '0'),
             ('999999999', '1'), ('1.23E-5', '4.56E+7')]:
    for op in ('add', 'subtract', 'multiply', 'divide'):
        ctx.clear_flags()
        show(f'{op}({a}, {b})', lambda: (str(getattr(ctx, op)(D(a), D(b))), flags(ctx)))

# Every rounding mode on ties and near-ties, by quantize and by precision.
for mode in (ROUND_HALF_UP, ROUND_HALF_EVEN, ROUND_DOWN, ROUND_UP, ROUND_CEILING,
             ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_05UP):
    row = [str(D(v).quantize(D('0.1'), rounding=mode))
           for v in ('2.25', '2.35', '-2.25', '2.251', '-2.249', '0.05', '2.0500001')]
    with localcontext(Context(prec=3, rounding=mode)) as c:
        row += [str(D('1.2345') + 0), str(D('-9.995') * 1), str(+D('1005'))]
    print(mode, row)

# Contexts: localcontext, traps, flags, Emin/Emax, clamp, capitals.
with localcontext() as c:
    c.prec = 5
    c.traps[decimal.Inexact] = True
    show('trapped inexact', lambda: D(1) / 3)
    c.traps[decimal.Inexact] = False
    show('untrapped inexact', lambda: (D(1) / 3, flags(c)))
with localcontext(Context(prec=5, Emax=10, Emin=-10)) as c:
    show('overflow', lambda: D('9E10') * 10)
    c.traps[decimal.Overflow] = False
    show('overflow untrapped', lambda: (D('9E10') * 10, flags(c)))
    c.clear_flags()
    show('subnormal', lambda: (D('1E-10') / 1000, flags(c)))
    c.clamp = 1
    c.clear_flags()
    show('clamped', lambda: (+D('1E+10'), flags(c)))
    c.capitals = 0
    show('capitals', lambda: str(D('1E+10')))
show('division by zero', lambda: D(1) / 0)
show('invalid', lambda: D(0) / 0)
show('syntax', lambda: D('1.2.3'))
show('getcontext prec', lambda: getcontext().prec)

# Special values.
for text in ('NaN', '-sNaN12', 'Infinity', '-inf', '  1_000.5  ', '\u0661\u0662'):
    show(f'D({text!r})', lambda: (str(D(text)), D(text).is_nan(), D(text).as_tuple()))
show('inf + 1', lambda: D('inf') + 1)
show('nan == nan', lambda: D('nan') == D('nan'))
show('nan < 1', lambda: D('nan') < 1)
show('snan hash', lambda: hash(D('snan')))

# Comparisons and hashes across numeric types.
for value in (D('1.5'), D('-2'), D('0.1'), D('1E+30'), D('-0'), D('123.4500')):
    print(value, hash(value) == hash(float(value)) if value != D('0.1') else None,
          hash(value) == hash(Fraction(value)), value == float(value),
          value == Fraction(value), value < 2, 2 > value, value == int(value))
print(hash(D(7)) == hash(7), D('1.0') == 1, {D('1.00'): 'a'}[1], D(5) in {5})
print(sorted([D('3'), D('-1.5'), D('2.25'), 1, 0.5, Fraction(7, 3)]))

# Conversions and construction.
print(D(3.14), D.from_float(0.1), D((1, (3, 1, 4), -2)), D(10**30), D(-7))
print(int(D('-7.9')), float(D('2.5')), round(D('2.675'), 2), round(D('7.5')),
      math.floor(D('-1.5')), math.ceil(D('1.2')), D('7.25').as_integer_ratio())
print(D('12.3400').normalize(), D('1.5').to_integral_value(), D('2').sqrt(),
      D('2').ln(), D('1.1') ** 10, D(10) ** -3, D('-7') % 3, D('-7') // 3,
      divmod(D('7.5'), 2), D('1E+2').to_eng_string(), D('12345E-10').adjusted())

# Formatting.
for spec in ('', '.2f', ',.2f', '>12.3f', 'e', '.3e', '%', '+.1%', 'g', '.10g', '08.2f'):
    print(repr(spec), format(D('1234567.891'), spec), format(D('-0.00012'), spec))
print(f'{D("12.5"):.0f} {D("13.5"):.0f} {D("-0"):f} {D("nan"):f} {D("inf"):,}')

# Pickling, copying, subclasses.
values = [D('1.10'), D('-inf'), D('nan123'), Context(prec=12, rounding=ROUND_UP)]
print(pickle.loads(pickle.dumps(values[:3])), copy.deepcopy(values[0]))
restored = pickle.loads(pickle.dumps(values[3]))
print(restored.prec, restored.rounding)


class Money(D):
    def cents(self):
        return self.quantize(D('0.01'))


m = Money('2.345')
print(type(m).__name__, m.cents(), type(m + 1).__name__, isinstance(m, D), repr(Money(5)))
print(sum([D('0.1')] * 10), sum(D(i) / 7 for i in range(1, 50)))

# What the native side keeps of contexts goes stale with every change: a
# precision set, a trap enabled in place, a context set or entered, a
# contextvars.Context run.
import contextvars
import gc
from decimal import Inexact, getcontext, localcontext, setcontext
ctx = getcontext()
ctx.prec = 6
print(D(1) / 7, D(2) ** -3, D('1E+3') ** 2, D(10) ** -8)
ctx.traps[Inexact] = True
try:
    D(1) / 7
except Inexact:
    print('Inexact trapped')
ctx.traps[Inexact] = False
with localcontext() as local:
    local.prec = 3
    print(D(2) / 3, contextvars.copy_context().run(lambda: D(2) / 3))
print(D(2) / 3)
setcontext(Context(prec=4, rounding=ROUND_UP))
print(D(2) / 3, D('7.5') // 2, D('-7.5') % 2, D('120.00').normalize(), D('2.5').to_integral())
print(contextvars.copy_context().run(lambda: (setcontext(Context(prec=2)), D(1) / 3)[1]), D(1) / 3)
setcontext(Context())

# A subclass instance with a __dict__ in a cycle is collected.
cycle = Money('1.5')
cycle.me = cycle
del cycle
print(gc.collect() > 0)
