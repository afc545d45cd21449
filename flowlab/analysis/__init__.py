"""Analyses of training dynamics: plateaus, condensation, effective rank, Gram spectra."""
