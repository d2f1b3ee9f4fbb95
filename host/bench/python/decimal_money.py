# Money arithmetic: invoice lines priced, taxed and rounded to the cent,
# the way an accounting export does it, then totals per customer.
from decimal import Decimal, ROUND_HALF_UP, ROUND_HALF_EVEN, localcontext

CENT = Decimal("0.01")
RATES = [Decimal("0.07"), Decimal("0.19"), Decimal("0.055"), Decimal("0")]


def lines(n):
    for i in range(n):
        price = Decimal(f"{(i * 7919) % 100000}.{i % 100:02d}")
        qty = Decimal((i * 31) % 17 + 1)
        discount = Decimal(f"0.{(i * 13) % 30:02d}")
        yield i % 97, price, qty, discount, RATES[i % 4]


totals = {}
grand = Decimal(0)
for customer, price, qty, discount, rate in lines(40000):
    net = (price * qty * (1 - discount)).quantize(CENT, rounding=ROUND_HALF_EVEN)
    tax = (net * rate).quantize(CENT, rounding=ROUND_HALF_UP)
    gross = net + tax
    totals[customer] = totals.get(customer, Decimal(0)) + gross
    grand += gross

with localcontext() as ctx:
    ctx.prec = 50
    average = grand / len(totals)
print(grand, average)
for customer in sorted(totals)[:5]:
    print(customer, totals[customer], f"{totals[customer]:,.2f}")
print(max(totals.values()), min(totals.values()))
