"""/login (when a [web] token is set) and /lang (the page's language)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from announcer.web.security import LOGIN_COOKIE
from announcer.web.site import check_csrf, render

router = APIRouter(dependencies=[Depends(check_csrf)])



@router.get("/login")
def login_page(request: Request):
    return render(request, "login.html", failed=False)


@router.post("/login")
def login(request: Request, token: str = Form("")):
    guard = request.app.state.site.guard
    if not guard.token_ok(token):
        return render(request, "login.html", status=401, failed=True)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(LOGIN_COOKIE, guard.login_mark(request.state.session), httponly=True, samesite="strict")
    return response


@router.get("/lang")
def language(request: Request, to: str = "zh", back: str = "/"):
    """Switch the page's language; `back` must be a path on this site."""
    if not back.startswith("/") or back.startswith("//") or "\\" in back:
        back = "/"
    response = RedirectResponse(back, status_code=303)
    response.set_cookie("lang", "en" if to == "en" else "zh", samesite="strict", max_age=365 * 86400)
    return response
