#!/bin/sh
exec python3 -m uvicorn --port="$PORT" main:app
