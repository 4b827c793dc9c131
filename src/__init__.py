"""Compiled kernels of lossopt (private; use the functions in `lossopt`)."""
