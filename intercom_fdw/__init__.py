"""intercom_fdw: Intercom's REST API as PostgreSQL foreign tables (Multicorn2 API).

`CREATE SERVER ... OPTIONS (wrapper 'intercom_fdw.IntercomFdw')` names the class below. It is
imported lazily so that everything else in the package (planning, the HTTP client, the
emulator) imports and tests without PostgreSQL or multicorn.
"""

__version__ = "0.1.0"


def __getattr__(name):
    if name == "IntercomFdw":
        from intercom_fdw.fdw import IntercomFdw

        return IntercomFdw
    raise AttributeError(name)
