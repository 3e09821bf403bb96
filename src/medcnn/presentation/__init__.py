"""Figures and tables for the book, model cards and benchmarks."""
