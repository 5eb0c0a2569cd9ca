"""schedule page (being written)."""

from fastapi import APIRouter, Depends

from announcer.web.site import check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)])
