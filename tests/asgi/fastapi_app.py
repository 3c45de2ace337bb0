"""A FastAPI application for the container tests (also served by uvicorn):
dependency injection, validation errors, lifespan state, WebSocket."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, WebSocket
from pydantic import BaseModel
from starlette.requests import HTTPConnection

EVENTS: list[str] = []


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    EVENTS.append("startup")
    yield {"db": {"1": "one", "2": "two"}}
    EVENTS.append("shutdown")


app = FastAPI(lifespan=lifespan)


def get_db(connection: HTTPConnection) -> dict[str, str]:
    # HTTPConnection: the same dependency serves HTTP routes and WebSockets.
    return connection.state.db  # type: ignore[no-any-return]


def current_user(x_user: Annotated[str | None, Header()] = None) -> str:
    if x_user is None:
        raise HTTPException(status_code=401, detail="who are you?")
    return x_user


class Item(BaseModel):
    name: str
    price: float


@app.get("/")
async def root() -> dict[str, str]:
    return {"hello": "world"}


@app.get("/items/{item_id}")
async def read_item(
    item_id: int,
    db: Annotated[dict[str, str], Depends(get_db)],
    user: Annotated[str, Depends(current_user)],
    q: str | None = None,
) -> dict[str, Any]:
    if str(item_id) not in db:
        raise HTTPException(status_code=404, detail="no such item")
    return {"id": item_id, "name": db[str(item_id)], "user": user, "q": q}


@app.post("/items")
async def create_item(item: Item) -> dict[str, Any]:
    return {"created": item.name, "price_cents": round(item.price * 100)}


@app.websocket("/ws")
async def websocket_endpoint(
    websocket: WebSocket, db: Annotated[dict[str, str], Depends(get_db)]
) -> None:
    await websocket.accept()
    key = await websocket.receive_text()
    await websocket.send_json({"key": key, "value": db.get(key)})
    await websocket.close(code=1000)
