"""The ipywidgets upload cell."""
