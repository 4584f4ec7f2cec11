def simple_math_problem() -> int:
    t = 'a' * 16000
    s = 'a' * 8000 + 'b'
    while True:
        s in t
