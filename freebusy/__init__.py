"""Interval algebra, availability expansion and busy-time caching (pure computation)."""
