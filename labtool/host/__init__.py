"""The host side: its daemons, its VM acceleration, and the doctor that checks them."""
