"""The Flask hello world every WSGI server in ``bench/wsgi.py`` serves."""

from flask import Flask

app = Flask("wsgi_flask_hello")


@app.route("/")
def hello() -> str:
    return "Hello, world"
