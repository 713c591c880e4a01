"""Two-way synchronization of replica tables with Intercom: `CALL intercom_fdw.sync()`.

A synced table is a replica table (replication/) that also accepts local INSERT, UPDATE and DELETE.

- objects.py   what each synced object allows and how a local row finds its Intercom object (data)
- resolve.py   pure: a row's pending changes as one net change, and conflicts column by column
- runner.py    the engine: push the change log through the foreign tables, then pull by replication
- sqlgen.py    the change log, the conflicts table, the capture trigger and the procedure
- plpython.py  the procedure's body (plpy as the database)
- cli.py       `intercom-fdw sync`: the same procedure from the command line

Intercom is reached only through the foreign tables (INSERT/UPDATE/DELETE: the FDW's write path and
its rules) and through replication's pull; sync sends no HTTP of its own.
"""
