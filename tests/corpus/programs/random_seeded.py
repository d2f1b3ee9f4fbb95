"""Seeded random simulations: a dice game, shuffles, sampling, a Monte Carlo estimate."""
import random

rng = random.Random(12345)
print([rng.randint(1, 6) for _ in range(10)])
print(rng.choice("abcdef"), rng.sample(range(100), 5), rng.choices("xyz", weights=[5, 1, 1], k=8))
deck = [f"{r}{s}" for s in "SHDC" for r in "A23456789TJQK"]
rng.shuffle(deck)
print(deck[:7])
print(round(rng.random(), 12), round(rng.uniform(10, 20), 12), rng.randrange(0, 100, 7), rng.getrandbits(40))
print(round(rng.gauss(0, 1), 12), round(rng.expovariate(2), 12), round(rng.triangular(0, 1, 0.2), 12))
inside = sum(1 for _ in range(20000) if rng.random() ** 2 + rng.random() ** 2 <= 1)
print("pi ~", 4 * inside / 20000)
wins = {"stay": 0, "switch": 0}
for _ in range(3000):
    car, pick = rng.randrange(3), rng.randrange(3)
    wins["stay"] += car == pick
    wins["switch"] += car != pick
print(wins)
state = rng.getstate()
a = rng.random()
rng.setstate(state)
print(a == rng.random(), random.Random("seed").random() == random.Random("seed").random())
random.seed(7)
print(random.randint(0, 10**9), random.random())
print(rng.randbytes(6).hex())
