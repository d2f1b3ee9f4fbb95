def greet(name):
    return f"Hello, {name}, from Python in a WebAssembly sandbox!"
