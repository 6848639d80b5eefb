"""Audit report building (frames, PDF, CSV/JSON, OSCAL) on top of ``governance`` features."""
