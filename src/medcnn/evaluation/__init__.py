"""Metrics (one implementation), calibration and evaluation reports."""
