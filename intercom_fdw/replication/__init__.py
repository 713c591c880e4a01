"""Replication of Intercom into local PostgreSQL tables: `CALL intercom_fdw.replicate()`.

- strategies.py  how each object finds its changes (data: one row per object)
- planning.py    the SQL text of a run (pure)
- runner.py      the one engine that runs every strategy, window by window, with the state table
- plpython.py    the procedure's body (plpy as the database)
- sqlgen.py      the procedure and its tables in the extension script
- cli.py         `intercom-fdw replicate`: the same procedure from the command line

Intercom is reached only through the foreign tables (and so through the FDW's client).
"""
