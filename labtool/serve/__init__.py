"""`labtool serve`: class time in the browser.

One small aiohttp application on this host, for one or more rooms:

- the instructor (who logs in with the token labtool keeps 0600 in LABTOOL_HOME) sees each
  room's seat grid live, one page per seat, and runs what they do in class (verify, check,
  reset, rotate a password) as labtool's own verbs, under the same room lock as the CLI;
- a student (who logs in with their handout's login and password, checked against the kept
  hash) sees only their seat: a terminal on either machine over SSH as themselves, their check
  results, and their checkpoints when the instructor lets them restore one.

Layout: `classroom` reads the rooms (no web in it), `auth` keeps sessions, tokens and the
login rate limit, `jobs` runs the instructor's actions, `terminal` bridges a websocket to an
SSH session, `tls` makes the certificate, `app` is the web application over them.
"""
