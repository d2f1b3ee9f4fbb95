"""Classes, inheritance, properties, class methods and custom exceptions."""


class InsufficientFunds(Exception):
    def __init__(self, account, amount):
        super().__init__(f"{account.owner} cannot withdraw {amount:.2f}")
        self.shortfall = amount - account.balance


class Account:
    interest = 0.0
    _next_number = 1000

    def __init__(self, owner, balance=0.0):
        self.owner = owner
        self._balance = balance
        self.number = Account._next_number
        Account._next_number += 1
        self.history = []

    @property
    def balance(self):
        return self._balance

    @balance.setter
    def balance(self, value):
        if value < 0:
            raise ValueError("balance cannot be negative")
        self._balance = value

    @classmethod
    def opening(cls, owner):
        return cls(owner, 10.0)

    @staticmethod
    def fmt(amount):
        return f"${amount:,.2f}"

    def deposit(self, amount):
        self.balance += amount
        self.history.append(("deposit", amount))
        return self

    def withdraw(self, amount):
        if amount > self.balance:
            raise InsufficientFunds(self, amount)
        self.balance -= amount
        self.history.append(("withdraw", amount))
        return self

    def month_end(self):
        if self._balance > 0:
            self.balance += self.balance * self.interest

    def __repr__(self):
        return f"{type(self).__name__}({self.owner!r}, {self.fmt(self.balance)})"


class Savings(Account):
    interest = 0.02

    def withdraw(self, amount):
        if len([h for h in self.history if h[0] == "withdraw"]) >= 2:
            raise RuntimeError("only two withdrawals a month")
        return super().withdraw(amount)


class Checking(Account):
    def __init__(self, owner, balance=0.0, overdraft=100.0):
        super().__init__(owner, balance)
        self.overdraft = overdraft

    def withdraw(self, amount):
        if amount > self.balance + self.overdraft:
            raise InsufficientFunds(self, amount)
        self._balance -= amount
        self.history.append(("withdraw", amount))
        return self


accounts = [Savings("ann", 1000), Checking("bob", 50), Account.opening("cy")]
accounts[0].deposit(250).withdraw(100).withdraw(50)
try:
    accounts[0].withdraw(1)
except RuntimeError as e:
    print("refused:", e)
accounts[1].withdraw(120)
try:
    accounts[2].withdraw(11)
except InsufficientFunds as e:
    print(e, f"short by {e.shortfall:.2f}")
try:
    accounts[2].balance = -5
except ValueError as e:
    print("ValueError:", e)
for account in accounts:
    account.month_end()
    print(account.number, account, account.history, isinstance(account, Account))
print(Savings.__mro__[1].__name__, issubclass(Checking, Account), Account.fmt(1234567.891))
