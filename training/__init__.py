"""Training and tuning: the manual's data preparation and training commands."""
