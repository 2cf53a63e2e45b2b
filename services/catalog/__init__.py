"""Catalog: programs, winning products, listings and their prices (R-PRG-*, R-CAT-*)."""
