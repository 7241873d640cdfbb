"""The bottom layer: pure numerical operations every other package may use (no project imports above it)."""
