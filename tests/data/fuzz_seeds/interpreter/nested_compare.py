def simple_math_problem() -> int:
    a = [0]
    b = [0]
    for i in range(40):
        a = [a, a]
        b = [b, b]
    t = a == b
    return 42
