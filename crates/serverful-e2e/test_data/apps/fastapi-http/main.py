"""An ordinary FastAPI app: nothing in it knows about Lambda."""

import asyncio
import os

from fastapi import FastAPI, Header, HTTPException, Request, Response
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    name: str
    price: float


@app.get("/health")
def health():
    return {"ok": True}


@app.get("/items/{item_id}")
def read_item(
    item_id: int,
    request: Request,
    response: Response,
    q: str | None = None,
    user_agent: str | None = Header(default=None),
):
    response.set_cookie("flavour", "oat")
    return {
        "item_id": item_id,
        "q": q,
        "user_agent": user_agent,
        "path": request.url.path,
        "cookies": dict(request.cookies),
        "port": os.environ.get("PORT"),
    }


@app.post("/items")
def create_item(item: Item):
    return {"created": item.name, "price_with_tax": round(item.price * 1.2, 2)}


@app.get("/missing")
def missing():
    raise HTTPException(status_code=404, detail="nothing here")


@app.get("/sleep")
async def sleep(ms: int = 300):
    await asyncio.sleep(ms / 1000)
    return {"pid": os.getpid(), "slept": ms}
