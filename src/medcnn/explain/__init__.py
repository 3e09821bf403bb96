"""Grad-CAM: where a model looks."""
