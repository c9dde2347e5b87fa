"""Domain services: each public function is one transaction.

A service validates everything first, then mutates, records domain events
(:mod:`scheduling.events`) and commits. On any :class:`~scheduling.errors.DomainError`
the session is rolled back, so a rejected action changes nothing.
"""
