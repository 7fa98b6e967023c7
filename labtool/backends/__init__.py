"""Backends create, start and destroy lab machines: one module per kind of machine."""
