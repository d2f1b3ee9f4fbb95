"""A tokenizer and recursive-descent parser for arithmetic, with variables and errors."""
import math
import re

TOKEN = re.compile(r"\s*(?:(\d+\.?\d*)|([A-Za-z_]\w*)|(\*\*|[-+*/%()=,]))")


def tokenize(text):
    pos, out = 0, []
    while pos < len(text.rstrip()):
        m = TOKEN.match(text, pos)
        if not m:
            raise SyntaxError(f"unexpected {text[pos:].strip()[0]!r} at {pos}")
        num, name, op = m.groups()
        out.append(("num", float(num)) if num else ("name", name) if name else ("op", op))
        pos = m.end()
    return out


class Parser:
    FUNCS = {"sqrt": math.sqrt, "max": max, "min": min, "abs": abs}

    def __init__(self, env):
        self.env = env

    def parse(self, text):
        self.toks, self.i = tokenize(text), 0
        if len(self.toks) > 2 and self.toks[1] == ("op", "="):
            name = self.toks[0][1]
            self.i = 2
            self.env[name] = value = self.expr()
        else:
            value = self.expr()
        if self.i != len(self.toks):
            raise SyntaxError(f"trailing {self.toks[self.i][1]!r}")
        return value

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, op=None):
        tok = self.peek()
        if op and tok != ("op", op):
            raise SyntaxError(f"expected {op!r}")
        self.i += 1
        return tok

    def expr(self):
        v = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            v = v + self.term() if self.take()[1] == "+" else v - self.term()
        return v

    def term(self):
        v = self.power()
        while self.peek()[1] in ("*", "/", "%"):
            op = self.take()[1]
            r = self.power()
            v = v * r if op == "*" else v / r if op == "/" else v % r
        return v

    def power(self):
        v = self.unary()
        if self.peek() == ("op", "**"):
            self.take()
            return v ** self.power()
        return v

    def unary(self):
        if self.peek() == ("op", "-"):
            self.take()
            return -self.unary()
        return self.atom()

    def atom(self):
        kind, val = self.take()
        if kind == "num":
            return val
        if kind == "name":
            if self.peek() == ("op", "("):
                self.take()
                args = [self.expr()]
                while self.peek() == ("op", ","):
                    self.take()
                    args.append(self.expr())
                self.take(")")
                return self.FUNCS[val](*args)
            if val not in self.env:
                raise NameError(f"undefined {val}")
            return self.env[val]
        if val == "(":
            v = self.expr()
            self.take(")")
            return v
        raise SyntaxError(f"unexpected {val!r}")


p = Parser({"pi": math.pi})
for line in ["1 + 2 * 3", "2 ** 3 ** 2", "-(4 - 6) * 2.5", "x = 10 / 4", "x * 2 + y", "sqrt(16) + max(1, x, 2)",
             "r = 2", "pi * r ** 2", "7 % 3", "1 / 0", "3 +", "2 $ 3", "(1 + 2"]:
    try:
        print(f"{line:<24} = {p.parse(line)!r}")
    except (SyntaxError, NameError, ZeroDivisionError, KeyError) as e:
        print(f"{line:<24} ! {type(e).__name__}: {e}")
