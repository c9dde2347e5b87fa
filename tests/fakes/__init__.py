"""Loopback stand-ins for calendar providers, used only by the tests."""
