module birthday

go 1.19
