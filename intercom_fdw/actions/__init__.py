"""Intercom's actions (archive a contact, reply to or close a conversation, submit an event, ...)
as SQL functions installed by `CREATE EXTENSION intercom_fdw`.

- `vocabulary`: what an action is made of (parameters, rules, body templates); pure.
- `definitions`: one description per action.
- `connection`: which server and whose token, decided from catalog rows; pure.
- `executor`: the one engine that sends an action through the shared HTTP client.
- `plpython`: the PL/Python edge that every SQL function body calls.
- `statement_calls`: what the calls of one SQL statement did in Intercom, for the error that stops it; pure.
- `sqlgen`: writes the extension script from the definitions.
"""
