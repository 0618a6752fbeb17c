GREETING = "hello from the base layer"
