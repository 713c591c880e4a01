"""The HTTP face of the emulator: Starlette routes that parse, call the backend, serialise."""
