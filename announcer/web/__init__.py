"""The staff member's web page (`announcer serve`, `announcer run --web`).

Server-rendered HTML (FastAPI + Jinja2) with a little plain JavaScript; no
front-end build. One module per page: today (notices → clips), recordings,
schedule (plan and settings), playlog, usb, controls (play now / stop).
`site.py` holds what every page shares, `app.py` puts the pages together,
`security.py` keeps them safe, `server.py` serves them.
"""

from announcer.web.app import create_app
from announcer.web.site import Site

__all__ = ["Site", "create_app"]
