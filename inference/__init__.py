"""Multilingual Product Inference System: brand and category from Thai/English product names."""

__version__ = "0.1.0"
