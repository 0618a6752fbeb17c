#!/bin/sh
echo "starting, but never listening"
exec sleep 60
