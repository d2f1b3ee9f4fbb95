"""Matrices as lists: multiplication, transpose, Gaussian elimination, determinants."""
from fractions import Fraction


def matmul(a, b):
    return [[sum(x * y for x, y in zip(row, col)) for col in zip(*b)] for row in a]


def identity(n):
    return [[int(i == j) for j in range(n)] for i in range(n)]


def solve(a, b):
    n = len(a)
    m = [[Fraction(v) for v in row] + [Fraction(bv)] for row, bv in zip(a, b)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if m[r][col] != 0)
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col])]
    return [m[i][n] / m[i][i] for i in range(n)]


def det(a):
    if len(a) == 1:
        return a[0][0]
    return sum((-1) ** j * a[0][j] * det([row[:j] + row[j + 1:] for row in a[1:]]) for j in range(len(a)))


A = [[2, 1, -1], [-3, -1, 2], [-2, 1, 2]]
B = [[1, 2], [3, 4], [5, 6]]
print(matmul(A, B))
print([list(r) for r in zip(*B)])
print(solve(A, [8, -11, -3]))
print(det(A), det([[1, 2], [3, 4]]), det(identity(4)))
P = identity(2)
F = [[1, 1], [1, 0]]
for _ in range(30):
    P = matmul(P, F)
print(P)
print([[round(x, 3) for x in row] for row in matmul([[0.5, 0.25], [0.125, 1.0]], [[2.0, 0.0], [0.0, 3.0]])])
