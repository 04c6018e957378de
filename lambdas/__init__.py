"""AWS Lambda handlers: thin adapters over `inference/` (see README.md for the event contracts)."""
