"""Operator overloading on a vector class: arithmetic, comparison, hashing, iteration."""
import math


class Vector:
    __slots__ = ("x", "y", "z")

    def __init__(self, x=0.0, y=0.0, z=0.0):
        self.x, self.y, self.z = x, y, z

    def __iter__(self):
        yield from (self.x, self.y, self.z)

    def __repr__(self):
        return f"Vector({self.x!r}, {self.y!r}, {self.z!r})"

    def __add__(self, other):
        return Vector(*(a + b for a, b in zip(self, other)))

    def __sub__(self, other):
        return self + (-other)

    def __neg__(self):
        return Vector(*(-a for a in self))

    def __mul__(self, k):
        if isinstance(k, Vector):
            return sum(a * b for a, b in zip(self, k))
        return Vector(*(a * k for a in self))

    __rmul__ = __mul__

    def __matmul__(self, o):
        return Vector(self.y * o.z - self.z * o.y, self.z * o.x - self.x * o.z, self.x * o.y - self.y * o.x)

    def __abs__(self):
        return math.sqrt(self * self)

    def __eq__(self, other):
        return isinstance(other, Vector) and tuple(self) == tuple(other)

    def __hash__(self):
        return hash(tuple(self))

    def __bool__(self):
        return any(self)

    def __getitem__(self, i):
        return tuple(self)[i]

    def __len__(self):
        return 3

    def __lt__(self, other):
        return abs(self) < abs(other)


a, b = Vector(1, 2, 3), Vector(4, 5, 6)
print(a + b, a - b, -a, a * 2, 3 * a, a * b, a @ b, abs(Vector(2, 3, 6)))
print(a == Vector(1, 2, 3), a != b, len({a, Vector(1, 2, 3), b}), bool(Vector()), a[1], a[-1], list(a), len(a))
print(sorted([b, a, Vector(0, 0, 1)]), max(a, b), Vector(1, 0, 0) @ Vector(0, 1, 0))
try:
    a.w = 1
except AttributeError as e:
    print("AttributeError:", type(e).__name__)
total = sum([a, b, Vector(1, 1, 1)], Vector())
print(total, f"{abs(total):.6f}")
x, y, z = b
print(x + y + z, "__dict__" in dir(a))
