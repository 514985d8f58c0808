"""Anonymization: transformations, the lattice search, utility metrics."""
