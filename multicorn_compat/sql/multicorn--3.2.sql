-- multicorn_compat: the SQL objects of the multicorn extension.
\echo Use "CREATE EXTENSION multicorn" to load this file. \quit

CREATE FUNCTION multicorn_handler() RETURNS fdw_handler
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE FUNCTION multicorn_validator(text[], oid) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER multicorn
    HANDLER multicorn_handler
    VALIDATOR multicorn_validator;
