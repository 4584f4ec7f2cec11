def f(n, k=2):
    if n <= 1:
        return 1
    elif n == 2:
        return k
    else:
        return f(n - 1) + f(n - 2)
x = f(10)
y = "abc" * 3
z = y[::-1] if x > 3 else None
print(x, y, z, -7 // 2, -7 % 3, 2 ** -1, int("42"), float(3))
