"""intercom_fdw: Intercom as PostgreSQL foreign tables, on the Multicorn2 API."""
from setuptools import find_packages, setup

setup(
    name="intercom-fdw",
    version="0.1.0",
    description="PostgreSQL foreign data wrapper for Intercom, built on Multicorn2",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="PostgreSQL",
    python_requires=">=3.9",
    packages=find_packages(include=["intercom_fdw", "intercom_fdw.*"]),
    include_package_data=True,
    # multicorn2 itself is not on PyPI: production builds it from its release,
    # development machines get the runtime in multicorn_compat/ (see README).
    install_requires=[
        "requests>=2.31",  # its helpers (proxies from the environment, charsets); the calls go through urllib3
        "urllib3>=2.0",  # the client's transport (client/transport.py)
        "certifi",  # the CA bundle when the environment names none (as requests)
        "msgspec>=0.18",  # the client decodes pages with it: exact big integers, only the fields a read uses
        "authlib>=1.3",
        "cryptography>=42",  # `intercom-fdw login`: the self-signed certificate of its HTTPS callback
        "psycopg[binary]>=3.1",
        "orjson>=3.9",  # the FDW serialises every row's attrs jsonb
        "anyascii>=0.3",  # identifiers from non-ASCII attribute and ticket type names (transliterated)
        "tqdm>=4.66",  # `intercom-fdw replicate`: a progress bar per object
    ],
    extras_require={
        "emulator": [
            "starlette>=0.37",
            "uvicorn>=0.29",
            "httptools>=0.6",  # uvicorn picks up the fast HTTP parser and event loop by itself:
            "uvloop>=0.19",  # together they take contacts-list throughput from ~30k to ~80k contacts/s
            "orjson>=3.10",  # orjson.Fragment: list pages reuse each object's serialised JSON
            "faker>=24",
        ],
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "openapi-core>=0.19",
            "httpx>=0.27",
            # Sign in with Intercom in a real headless browser (Debian's chromium + chromium-driver,
            # installed by scripts/bootstrap.sh); 4.52.0 needs a certifi newer than the suite's.
            "selenium==4.51.0",
            "python-intercom==5.0.1",  # Intercom's official SDK, pointed at the emulator
        ],
    },
    entry_points={"console_scripts": ["intercom-fdw=intercom_fdw.tools.cli:main"]},
)
