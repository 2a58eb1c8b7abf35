"""The chat domain: plain data and rules, importing only the standard library."""
