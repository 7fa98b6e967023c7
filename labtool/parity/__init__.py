"""Parity: fingerprint both machines of a seat and diff them, separating drift from expected differences."""
