"""The Python half of multicorn_compat: the `multicorn` package that FDW classes import.

Pure Python on purpose: the functions that talk to PostgreSQL (`multicorn._utils`) are
provided by the extension's shared library when it runs inside a backend."""
from setuptools import setup

setup(
    name="multicorn-compat",
    version="3.2.0",
    description="Clean-room Python API of Multicorn2 for the intercom_fdw runtime",
    license="PostgreSQL",
    python_requires=">=3.9",
    packages=["multicorn"],
)
