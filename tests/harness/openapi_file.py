"""Intercom's OpenAPI description, the contract every test holds requests and responses to.

It lives in shared/, beside the checkout (the work tree and CI's fresh clone both have it there);
INTERCOM_OPENAPI_FILE overrides. Loaded once per test session.
"""
import functools
import os
from pathlib import Path

from openapi_core import Config, OpenAPI

REPO = Path(__file__).resolve().parents[2]
OPENAPI_FILE = Path(os.environ.get(
    "INTERCOM_OPENAPI_FILE", REPO.parent / "shared" / "intercom-openapi" / "api.intercom.io.2.14.yaml"))


@functools.lru_cache(maxsize=1)
def openapi() -> OpenAPI:
    if not OPENAPI_FILE.exists():
        raise FileNotFoundError(
            f"Intercom's OpenAPI file is not at {OPENAPI_FILE}: the tests expect shared/ beside the checkout "
            "(or INTERCOM_OPENAPI_FILE set to the file)")
    # The file fails strict validation (an undeclared path parameter): see shared/intercom-openapi/README.md.
    return OpenAPI.from_file_path(str(OPENAPI_FILE), config=Config(spec_validator_cls=None))
