"""A small Flask application exercised through WSGIContainer and through
Flask's own test client."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from flask import Flask, Response, abort, jsonify, make_response, redirect, request, send_file

app = Flask("wsgi_flask_app")


@app.route("/")
def index() -> str:
    return "Hello from Flask"


@app.route("/hello/<name>")
def hello(name: str) -> Response:
    return jsonify(name=name, args=request.args.to_dict(), path=request.path)


@app.route("/form", methods=["POST"])
def form() -> Response:
    return jsonify(form=request.form.to_dict(flat=False))


@app.route("/upload", methods=["POST"])
def upload() -> Response:
    files = {
        name: [f.filename, hashlib.sha256(f.read()).hexdigest()]
        for name, f in request.files.items()
    }
    return jsonify(files=files, fields=request.form.to_dict())


@app.route("/json", methods=["PUT"])
def put_json() -> Response:
    return jsonify(received=request.get_json(), length=request.content_length)


@app.route("/stream")
def stream() -> Response:
    def produce() -> Iterator[str]:
        for n in range(5):
            yield f"chunk {n}\n"

    return Response(produce(), mimetype="text/plain")


@app.route("/error")
def error() -> str:
    raise RuntimeError("deliberate failure")


@app.route("/forbidden")
def forbidden() -> str:
    abort(403)


@app.route("/cookie/set")
def set_cookie() -> Response:
    response = make_response("cookie set")
    response.set_cookie("flavour", "oatmeal raisin", httponly=True)
    return response


@app.route("/cookie/get")
def get_cookie() -> str:
    return "flavour=" + request.cookies.get("flavour", "none")


@app.route("/redirect")
def go() -> Response:
    return redirect("/hello/redirected")


@app.route("/file")
def file() -> Response:
    # Werkzeug sends files through wsgi.file_wrapper when the server has one.
    return send_file(__file__, mimetype="text/x-python")
