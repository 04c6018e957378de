from inference.cli import app

app(prog_name="product-infer")
