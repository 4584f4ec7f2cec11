def simple_math_problem() -> int:
    x = [0] * 90000
    y = [0] * 90000
    while True:
        x == y
