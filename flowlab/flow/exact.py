"""Event-driven Filippov gradient flow of ReLU networks (seed 003, (3.1))."""


def solve_exact(prob, t_end, **opts):
    raise ValueError("method='exact' is not available in this version of flowlab; pass one of "
                     "scipy's methods, e.g. method='Radau'.")
