"""/login (when a [web] token is set) and /lang (the page's language)."""

from __future__ import annotations

import asyncio
import math
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from announcer.web.security import LOGIN_COOKIE
from announcer.web.site import check_csrf, page_of, render

router = APIRouter(dependencies=[Depends(check_csrf)])


@router.get("/login")
def login_page(request: Request):
    return render(request, "login.html", failed=False)


@router.post("/login")
async def login(request: Request, token: str = Form("")):
    """A wrong token costs the client a second (awaited: other requests go on), and too many lock it out."""
    guard = request.app.state.site.guard
    client = request.client.host if request.client else None
    wait = guard.throttle.refused(client)
    if wait:
        return render(request, "login.html", status=429, failed=False, locked_minutes=math.ceil(wait / 60))
    if not guard.token_ok(token):
        guard.throttle.failed(client)
        await asyncio.sleep(guard.throttle.delay)
        return render(request, "login.html", status=401, failed=True)
    guard.throttle.succeeded(client)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(LOGIN_COOKIE, guard.login_mark(request.state.session), httponly=True, samesite="lax")
    return response


@router.get("/lang")
def language(request: Request, to: str = "zh", back: str = "/"):
    """Switch the page's language, then show `back` again: one of this site's pages (a form's POST address
    gives its page), keeping a valid ?date=."""
    wanted = urlsplit(back)
    if wanted.scheme or wanted.netloc or not wanted.path.startswith("/") or wanted.path.startswith("//"):
        target = "/"
    else:
        target = "/login" if wanted.path == "/login" else page_of(wanted.path, wanted.query)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie("lang", "en" if to == "en" else "zh", samesite="lax", max_age=365 * 86400)
    return response
