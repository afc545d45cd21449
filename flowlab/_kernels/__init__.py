"""numba kernels: plain loops on preallocated outputs, no validation.

Everything here takes float64 arrays that the public wrappers have checked and
writes into outputs they allocated.  Nothing in this package is public API.
"""
