"""REST adapters over the core; each module exports ``ROUTES``."""
