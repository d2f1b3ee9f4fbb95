"""Exact arithmetic with fractions, and the math and statistics modules."""
import math
import statistics
from fractions import Fraction

f = Fraction(3, 4) + Fraction(5, 6) - Fraction(1, 12)
print(f, float(f), f.numerator, f.denominator, Fraction("0.125"), Fraction(1.1).limit_denominator(100))
harmonic = sum(Fraction(1, n) for n in range(1, 11))
print(harmonic, round(harmonic, 3), harmonic > 2, Fraction(7, 3) // 1, Fraction(-7, 3) % 1)
print(Fraction(2, 3) ** 3, Fraction(9, 4) ** Fraction(1, 2), Fraction("3/9"), f"{Fraction(1, 3):}")
print(math.gcd(84, 36, 120), math.lcm(4, 6, 10), math.isqrt(10**20 + 1), math.comb(52, 5), math.perm(10, 3))
print(math.factorial(20), math.prod(range(1, 8)), math.fsum([0.1] * 10), sum([0.1] * 10))
print(math.floor(-2.5), math.ceil(-2.5), math.trunc(-2.5), math.copysign(3, -0.0), math.fabs(-4))
print(math.isclose(0.1 + 0.2, 0.3), math.hypot(3, 4), math.dist((0, 0), (1, 1)), math.degrees(math.pi))
print(f"{math.sqrt(2):.12f} {math.exp(1):.12f} {math.log(1000, 10):.12f} {math.log2(1024)} {math.sin(math.pi / 6):.12f}")
print(math.inf > 10**308, math.isnan(float("nan")), math.isfinite(1e308 * 10), divmod(-7, 2), (-7) // 2, -7 % 2)
print(int("ff", 16), int("0b101", 0), (255).to_bytes(2, "big"), int.from_bytes(b"\x01\x00", "little"), (10**30).bit_length())
print(2 ** 100, 7 ** 77 % 1000, pow(3, -1, 7), pow(2, 10, 1000), abs(-3 + 4j), complex(1, 2) * 1j)
scores = [88, 92, 79, 93, 85, 92, 71]
print(statistics.mean(scores), statistics.median(scores), statistics.mode(scores), statistics.median_low([1, 2, 3, 4]))
print(f"{statistics.stdev(scores):.6f} {statistics.pvariance(scores):.6f}", statistics.quantiles(scores, n=4))
print(statistics.mean([Fraction(1, 2), Fraction(1, 3)]), statistics.harmonic_mean([40, 60]))
