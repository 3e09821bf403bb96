"""Untrusted bytes to canonical pixels: the one preprocessing, raster and DICOM readers."""
