"""Side-by-side timing helpers: both contenders measured in the same run, interleaved."""

import time


def best_time(func, min_time=0.2, repeats=5):
    """Best per-call time (s) over ``repeats`` batches of at least ``min_time`` seconds."""
    func()
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            func()
        dt = time.perf_counter() - t
        if dt >= min_time / 10 or n > 1e7:
            break
        n *= 4
    n = max(1, int(n * (min_time / 10) / max(dt, 1e-9)))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            func()
        best = min(best, (time.perf_counter() - t) / n)
    return best


def side_by_side(funcs: dict, min_time=0.2, rounds=3):
    """Best per-call time of each function, measured round-robin ``rounds`` times."""
    best = {k: float("inf") for k in funcs}
    for _ in range(rounds):
        for k, f in funcs.items():
            best[k] = min(best[k], best_time(f, min_time=min_time, repeats=2))
    return best
