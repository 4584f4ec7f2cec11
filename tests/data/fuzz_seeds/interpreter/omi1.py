import math
xs = [x * x for x in range(10) if x % 2]
print(sum(xs), math.sqrt(16))
t = (1, 2)
a, b = t
xs[1:3] + [a - b]
