def simple_math_problem() -> int:
    """
    Q
    """
    a = 12
    b = [a, 3]
    for i in range(b[1]):
        a += i * 2
    while a > 100:
        a //= 2
    result = round(a / 3 + max(b) ** 2, 1)
    return result
