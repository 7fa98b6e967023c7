"""Students' handouts: each student's login, password and way into their seat's two machines."""
