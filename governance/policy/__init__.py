"""Compliance policies: the Rego bundle, the input document, the engines and decisions."""
