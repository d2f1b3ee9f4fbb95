# High-precision series: pi to 1000 digits (Machin's formula), e and
# square roots by Newton's method, all in Decimal.
from decimal import Decimal, getcontext

getcontext().prec = 1010


def arctan_inv(x):
    """arctan(1/x) by its Taylor series."""
    x = Decimal(x)
    power = 1 / x
    x2 = x * x
    total = power
    n = 1
    sign = -1
    eps = Decimal(10) ** -1010
    while True:
        power /= x2
        term = power / (2 * n + 1)
        if term < eps:
            break
        total += sign * term
        sign = -sign
        n += 1
    return total


pi = 16 * arctan_inv(5) - 4 * arctan_inv(239)

e = Decimal(0)
term = Decimal(1)
k = 0
while term > Decimal(10) ** -1010:
    e += term
    k += 1
    term /= k


def newton_sqrt(a):
    x = Decimal(a) / 2
    for _ in range(40):
        x = (x + a / x) / 2
    return x


roots = [newton_sqrt(Decimal(i)) for i in range(2, 40)]
getcontext().prec = 1000
print(str(+pi)[:60], str(+pi)[-20:])
print(str(+e)[:60], str(+e)[-20:])
print(str(+roots[0])[-20:], sum(+r for r in roots))
