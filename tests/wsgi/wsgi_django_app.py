"""A small Django project in one module, exercised through WSGIContainer and
through Django's own test client."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import django
from django.conf import settings
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import path

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="squall-wsgi-tests-only",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["*"],
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello from Django")


def hello(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse({"name": name, "args": request.GET.dict(), "path": request.path})


def form(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"form": dict(request.POST.lists())})


def upload(request: HttpRequest) -> JsonResponse:
    files = {
        name: [f.name, hashlib.sha256(f.read()).hexdigest()] for name, f in request.FILES.items()
    }
    return JsonResponse({"files": files, "fields": request.POST.dict()})


def put_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"received": json.loads(request.body), "length": len(request.body)})


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def produce() -> Iterator[bytes]:
        for n in range(5):
            yield f"chunk {n}\n".encode()

    return StreamingHttpResponse(produce(), content_type="text/plain")


def error(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("deliberate failure")


def set_cookie(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("cookie set")
    response.set_cookie("flavour", "oatmeal raisin", httponly=True)
    return response


def get_cookie(request: HttpRequest) -> HttpResponse:
    return HttpResponse("flavour=" + request.COOKIES.get("flavour", "none"))


def go(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/hello/redirected")


def file(request: HttpRequest) -> FileResponse:
    # Django sends files through wsgi.file_wrapper when the server has one.
    return FileResponse(open(__file__, "rb"), content_type="text/x-python")


urlpatterns = [
    path("", index),
    path("hello/<str:name>", hello),
    path("form", form),
    path("upload", upload),
    path("json", put_json),
    path("stream", stream),
    path("error", error),
    path("cookie/set", set_cookie),
    path("cookie/get", get_cookie),
    path("redirect", go),
    path("file", file),
]


def application() -> object:
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()
