"""Seeded MSP books: the working model, the baseline, the planted discrepancies and the ground truth."""
