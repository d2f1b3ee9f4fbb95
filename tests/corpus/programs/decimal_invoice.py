"""Money with decimal: an invoice with tax, rounding and currency formatting."""
from decimal import ROUND_HALF_UP, Decimal, getcontext, localcontext

CENT = Decimal("0.01")
lines = [("Consulting", Decimal("12.5"), Decimal("95.00")), ("Travel", Decimal("1"), Decimal("312.47")),
         ("Licence", Decimal("3"), Decimal("19.99"))]
subtotal = Decimal(0)
for name, qty, price in lines:
    amount = (qty * price).quantize(CENT, rounding=ROUND_HALF_UP)
    subtotal += amount
    print(f"{name:<12}{qty:>6}{price:>10}{amount:>12}")
tax = (subtotal * Decimal("0.0825")).quantize(CENT, rounding=ROUND_HALF_UP)
print(f"{'subtotal':<28}{subtotal:>12}\n{'tax 8.25%':<28}{tax:>12}\n{'total':<28}{subtotal + tax:>12,}")
print(Decimal("0.1") + Decimal("0.2"), 0.1 + 0.2, Decimal(0.1))
print(Decimal("2.675").quantize(CENT), Decimal("2.675").quantize(CENT, rounding=ROUND_HALF_UP))
print(getcontext().prec, Decimal(1) / Decimal(7))
with localcontext() as ctx:
    ctx.prec = 50
    print(Decimal(2).sqrt())
print(Decimal("1.30").normalize(), Decimal("-0"), Decimal("1e3").to_integral(), Decimal("3.14159").as_tuple())
print(sum(Decimal("0.01") for _ in range(1000)), Decimal("10") % Decimal("3"), divmod(Decimal("-7"), Decimal("2")))
