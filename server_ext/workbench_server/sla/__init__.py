"""SLA tracking beyond one run: what upstream trouble puts at risk downstream."""
