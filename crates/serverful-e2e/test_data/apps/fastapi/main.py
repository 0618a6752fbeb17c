from fastapi import FastAPI, Header, HTTPException
from mangum import Mangum
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    name: str
    price: float


@app.get("/items/{item_id}")
def read_item(item_id: int, q: str | None = None, user_agent: str | None = Header(default=None)):
    return {"item_id": item_id, "q": q, "user_agent": user_agent}


@app.post("/items")
def create_item(item: Item):
    return {"created": item.name, "price_with_tax": round(item.price * 1.2, 2)}


@app.get("/missing")
def missing():
    raise HTTPException(status_code=404, detail="nothing here")


handler = Mangum(app, lifespan="off")
