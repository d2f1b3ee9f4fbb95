"""Runs the General Decimal Arithmetic test files (*.decTest) against the
`decimal` module of the Python running this script, and prints one line per
file and the totals: `TOTAL passed failed skipped`.

Usage: dectest.py DIR [NAME...]   (NAME: a file's name without .decTest)

A test line is `id operation operand... -> result condition...`; a
directive is `name: value` (precision, rounding, maxExponent, minExponent,
clamp) and applies to the lines after it; `dectest: NAME` runs another
file with the current settings. Operands are read exactly, as
`Decimal(text)`; the operation is the context's method of that name; the
result must read as the file says, and the flags raised must be exactly the
conditions it lists. Every other signal is trapped, so an unexpected
condition fails its test. Lines with a `#` (a null reference or an
encoding in hexadecimal, meaningless in Python) are skipped, as CPython's
own runner skips them.
"""

import decimal
import os
import sys
from decimal import Context, Decimal

OPERATIONS = {
    'and': 'logical_and', 'apply': '_apply', 'class': 'number_class',
    'comparesig': 'compare_signal', 'comparetotal': 'compare_total',
    'comparetotmag': 'compare_total_mag', 'copy': 'copy_decimal',
    'copyabs': 'copy_abs', 'copynegate': 'copy_negate',
    'copysign': 'copy_sign', 'divideint': 'divide_int',
    'invert': 'logical_invert', 'iscanonical': 'is_canonical',
    'isfinite': 'is_finite', 'isinfinite': 'is_infinite', 'isnan': 'is_nan',
    'isnormal': 'is_normal', 'isqnan': 'is_qnan', 'issigned': 'is_signed',
    'issnan': 'is_snan', 'issubnormal': 'is_subnormal', 'iszero': 'is_zero',
    'maxmag': 'max_mag', 'minmag': 'min_mag', 'nextminus': 'next_minus',
    'nextplus': 'next_plus', 'nexttoward': 'next_toward', 'or': 'logical_or',
    'reduce': 'normalize', 'remaindernear': 'remainder_near',
    'samequantum': 'same_quantum', 'squareroot': 'sqrt',
    'toeng': 'to_eng_string', 'tointegral': 'to_integral_value',
    'tointegralx': 'to_integral_exact', 'tosci': 'to_sci_string',
    'xor': 'logical_xor',
}

# Operations of the specification that Python's decimal does not have.
UNSUPPORTED = {'rescale', 'trim', 'encode', 'decode'}

CONDITIONS = {
    'clamped': decimal.Clamped,
    'conversion_syntax': decimal.InvalidOperation,
    'division_by_zero': decimal.DivisionByZero,
    'division_impossible': decimal.InvalidOperation,
    'division_undefined': decimal.InvalidOperation,
    'inexact': decimal.Inexact,
    'invalid_context': decimal.InvalidOperation,
    'invalid_operation': decimal.InvalidOperation,
    'overflow': decimal.Overflow,
    'rounded': decimal.Rounded,
    'subnormal': decimal.Subnormal,
    'underflow': decimal.Underflow,
}

SIGNALS = [decimal.Clamped, decimal.DivisionByZero, decimal.Inexact,
           decimal.Overflow, decimal.Rounded, decimal.Underflow,
           decimal.InvalidOperation, decimal.Subnormal,
           decimal.FloatOperation]

ROUNDINGS = {
    'ceiling': decimal.ROUND_CEILING, 'down': decimal.ROUND_DOWN,
    'floor': decimal.ROUND_FLOOR, 'half_down': decimal.ROUND_HALF_DOWN,
    'half_even': decimal.ROUND_HALF_EVEN, 'half_up': decimal.ROUND_HALF_UP,
    'up': decimal.ROUND_UP, '05up': decimal.ROUND_05UP,
}

BOOLEAN_RESULTS = {'is_canonical', 'is_finite', 'is_infinite', 'is_nan',
                   'is_normal', 'is_qnan', 'is_signed', 'is_snan',
                   'is_subnormal', 'is_zero', 'same_quantum'}


def tokens(text):
    """Splits a test line's side into words; quoted words may hold spaces,
    and a doubled quote inside them stands for the quote."""
    words = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in '\'"':
            word = []
            i += 1
            while i < len(text):
                if text[i] == c:
                    if i + 1 < len(text) and text[i + 1] == c:
                        word.append(c)
                        i += 2
                        continue
                    i += 1
                    break
                word.append(text[i])
                i += 1
            words.append(''.join(word))
        else:
            start = i
            while i < len(text) and not text[i].isspace():
                i += 1
            words.append(text[start:i])
    return words


def strip_comment(line):
    """The line without its `--` comment (outside quotes)."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in '\'"':
            quote = c
        elif line.startswith('--', i):
            return line[:i]
    return line


class Runner:
    def __init__(self, directory):
        self.directory = directory
        self.passed = self.failed = self.skipped = 0
        self.failures = []
        # The exponent limits of the file that this platform cannot set.
        self.beyond = set()

    def run_file(self, name, context):
        path = os.path.join(self.directory, name + '.decTest')
        with open(path, encoding='utf-8') as file:
            for line in file:
                line = strip_comment(line).strip()
                if not line:
                    continue
                if '->' in line:
                    self.equation(line, context)
                else:
                    self.directive(line, context)

    def directive(self, line, context):
        key, _, value = line.partition(':')
        key, name, value = key.strip().lower(), value.strip(), value.strip().lower()
        if key == 'dectest':
            self.run_file(name, context)
        elif key == 'precision':
            # As the exponent limits below: MAX_PREC is smaller on 32 bits.
            try:
                context.prec = int(value)
                self.beyond.discard(key)
            except ValueError:
                self.beyond.add(key)
        elif key == 'rounding':
            context.rounding = ROUNDINGS[value]
        elif key in ('maxexponent', 'minexponent'):
            # A limit past what this platform's decimal takes (a 32-bit
            # build's MAX_EMAX is 425000000, as on the CPython guest): the
            # equations under it are skipped, as CPython's own runner
            # skips them.
            try:
                setattr(context, 'Emax' if key == 'maxexponent' else 'Emin', int(value))
                self.beyond.discard(key)
            except ValueError:
                self.beyond.add(key)
        elif key == 'clamp':
            context.clamp = int(value)

    def equation(self, line, context):
        left, _, right = line.partition('->')
        words = tokens(left)
        expected = tokens(right)
        ident, operation, operands = words[0], words[1].lower(), words[2:]
        if operation in UNSUPPORTED or '#' in line or not expected or self.beyond:
            self.skipped += 1
            return
        method = getattr(context, OPERATIONS.get(operation, operation), None)
        if method is None:
            self.skipped += 1
            return
        want, conditions = expected[0], expected[1:]
        try:
            wanted_flags = {CONDITIONS[c.lower()] for c in conditions}
        except KeyError:
            self.skipped += 1
            return
        for signal in SIGNALS:
            context.traps[signal] = signal not in wanted_flags
        context.clear_flags()
        try:
            # Reading an operand may raise conditions too (a conversion
            # syntax error; rounding, for to-sci-string): they count.
            if method.__name__ in ('to_sci_string', 'to_eng_string'):
                values = [context.create_decimal(v) for v in operands]
            else:
                values = [Decimal(v, context) for v in operands]
            result = method(*values)
            result = str(int(result)) if method.__name__ in BOOLEAN_RESULTS else str(result)
            flags = {s for s in SIGNALS if context.flags[s]}
        except (decimal.DecimalException, ValueError, TypeError,
                OverflowError, MemoryError, ArithmeticError) as error:
            result, flags = 'raised %s' % type(error).__name__, None
        for signal in SIGNALS:
            context.traps[signal] = False
        if result == want and flags == wanted_flags:
            self.passed += 1
        else:
            self.failed += 1
            got = sorted(s.__name__ for s in flags) if flags is not None else ''
            self.failures.append('%s: got %s %s' % (line, result, got))


def main():
    directory = sys.argv[1]
    # testall.decTest only includes the others.
    names = sys.argv[2:] or sorted(
        n[:-len('.decTest')] for n in os.listdir(directory)
        if n.endswith('.decTest') and n != 'testall.decTest')
    verbose = os.environ.get('DECTEST_VERBOSE')
    total = Runner(directory)
    for name in names:
        runner = Runner(directory)
        context = Context(prec=9, rounding=decimal.ROUND_HALF_UP,
                          Emax=999, Emin=-999, clamp=0)
        try:
            runner.run_file(name, context)
        except (decimal.DecimalException, ValueError, OSError) as error:
            print('%s: stopped by %s: %s' % (name, type(error).__name__, error))
        print('%s %d %d %d' % (name, runner.passed, runner.failed, runner.skipped))
        if verbose:
            for failure in runner.failures:
                print('  FAIL', failure)
        total.passed += runner.passed
        total.failed += runner.failed
        total.skipped += runner.skipped
    print('TOTAL %d %d %d' % (total.passed, total.failed, total.skipped))


main()
