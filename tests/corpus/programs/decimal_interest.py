"""A loan amortization table computed with decimal, as a finance script does."""
from decimal import ROUND_HALF_EVEN, Decimal, getcontext

getcontext().prec = 28
CENT = Decimal("0.01")
principal = Decimal("25000")
rate = Decimal("0.054") / 12
months = 36
payment = (principal * rate / (1 - (1 + rate) ** -months)).quantize(CENT, ROUND_HALF_EVEN)
print("monthly payment", payment)
balance = principal
total_interest = Decimal(0)
for month in range(1, months + 1):
    interest = (balance * rate).quantize(CENT, ROUND_HALF_EVEN)
    principal_part = payment - interest
    if month == months:
        principal_part = balance
    balance -= principal_part
    total_interest += interest
    if month <= 3 or month % 12 == 0:
        print(f"{month:3d} {interest:>9} {principal_part:>10} {balance:>11}")
print("total interest", total_interest, "paid", payment * (months - 1) + principal_part + interest)
compound = Decimal(1000)
for year in range(10):
    compound = (compound * Decimal("1.07")).quantize(CENT)
print("ten years at 7%", compound, compound.ln().quantize(Decimal("1e-10")), Decimal(10).log10())
