"""Architectures, saved models with their cards, the forward pass and feature references."""
