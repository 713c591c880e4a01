"""Options are validated when they are written: the event trigger of `CREATE EXTENSION intercom_fdw`
checks every CREATE/ALTER of an Intercom server, foreign table (and its columns) and user mapping,
and IMPORT FOREIGN SCHEMA, through PostgreSQL. Servers of other multicorn wrappers are left alone."""
import psycopg
import pytest
from psycopg import sql

DB = "test_option_checks"
TOKEN = "tok-very-secret-4242"
ROLE = "option_check_user"
WRAPPER = "wrapper 'intercom_fdw.IntercomFdw'"


@pytest.fixture(scope="module")
def conn(pg):
    name = pg.create_database(DB, extensions=("multicorn", "plpython3u", "intercom_fdw"))
    with pg.connect(name) as session:
        session.execute(f"CREATE SERVER good FOREIGN DATA WRAPPER multicorn OPTIONS ({WRAPPER}, "
                        "api_url 'http://127.0.0.1:9')")
        session.execute("CREATE FOREIGN TABLE good_contacts (id text, plan text OPTIONS (custom_attribute 'plan')) "
                        "SERVER good OPTIONS (object 'contacts')")
        session.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (access_token '{TOKEN}')")
        yield session


def failure(conn, statement) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as raised:
        conn.execute(statement)
    error = raised.value
    reported = " ".join(str(part) for part in (error.diag.message_primary, error.diag.message_detail,
                                               error.diag.message_hint, error.diag.context))
    assert TOKEN not in reported and "very-secret" not in reported
    return error


def options_of(conn, query):
    return conn.execute(query).fetchone()[0]


# (options, words of the message, words of the hint)
BAD_SERVER_OPTIONS = [
    ("regoin 'eu'", "unknown server option regoin", "valid server options: region"),
    ("region 'mars'", "unknown Intercom region 'mars'", "au, eu, us"),
    ("pushdown 'maybe'", "invalid value 'maybe' for option pushdown", "'true' or 'false'"),
    ("concurrency '1000'", "invalid value '1000' for option concurrency", "from 1 to 32"),
    ("read_concurrency '0'", "invalid value '0' for option read_concurrency", "from 1 to 64"),
    ("api_url 'ftp://example.com'", "invalid api_url 'ftp://example.com': not an http(s) URL", "api_url"),
    ("object 'contacts'", "unknown server option object", "valid server options"),
]


@pytest.mark.parametrize("option,message,hint", BAD_SERVER_OPTIONS)
def test_bad_server_options_fail_at_create(conn, option, message, hint):
    error = failure(conn, f"CREATE SERVER bad FOREIGN DATA WRAPPER multicorn OPTIONS ({WRAPPER}, {option})")
    assert error.diag.message_primary.endswith(f'intercom_fdw: server bad: {message}')
    assert hint in error.diag.message_hint
    assert conn.execute("SELECT count(*) FROM pg_foreign_server WHERE srvname = 'bad'").fetchone()[0] == 0


@pytest.mark.parametrize("option,message,hint", BAD_SERVER_OPTIONS)
def test_bad_server_options_fail_at_alter(conn, option, message, hint):
    before = options_of(conn, "SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'good'")
    verb = "SET" if option.startswith("api_url") else "ADD"  # good has an api_url (and so no region)
    error = failure(conn, f"ALTER SERVER good OPTIONS ({verb} {option})")
    assert message in error.diag.message_primary and hint in error.diag.message_hint
    assert options_of(conn, "SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'good'") == before


BAD_TABLE_OPTIONS = [
    ("object 'contact'", "unknown Intercom object 'contact'", "contacts"),
    ("object 'contacts', pushdwon 'false'", "unknown table option pushdwon", "valid table options: object"),
    ("object 'contacts', suppress_extended_requests 'perhaps'",
     "invalid value 'perhaps' for option suppress_extended_requests", "'true' or 'false'"),
    ("object 'contacts', row_estimate 'many'", "invalid value 'many' for option row_estimate", "a number"),
    ("ticket_type_id '1'", "no object option", "object 'contacts'"),
]


@pytest.mark.parametrize("options,message,hint", BAD_TABLE_OPTIONS)
def test_bad_table_options_fail_at_create(conn, options, message, hint):
    error = failure(conn, f"CREATE FOREIGN TABLE bad_table (id text) SERVER good OPTIONS ({options})")
    assert error.diag.message_primary.endswith(f"intercom_fdw: foreign table public.bad_table: {message}")
    assert hint in error.diag.message_hint
    assert conn.execute("SELECT to_regclass('bad_table')").fetchone()[0] is None


@pytest.mark.parametrize("alter,message,hint", [
    ("OPTIONS (SET object 'contact')", "unknown Intercom object 'contact'", "contacts"),
    ("OPTIONS (ADD pushdwon 'false')", "unknown table option pushdwon", "valid table options"),
    ("OPTIONS (ADD suppress_extended_requests 'perhaps')",
     "invalid value 'perhaps' for option suppress_extended_requests", "'true' or 'false'"),
    ("OPTIONS (DROP object)", "no object option", "IMPORT FOREIGN SCHEMA"),
    ("ALTER COLUMN plan OPTIONS (ADD custom_atribute 'x')", "column plan: unknown column option custom_atribute",
     "custom_attribute"),
    ("ADD COLUMN extra text OPTIONS (colour 'red')", "column extra: unknown column option colour", "data_type"),
])
def test_bad_table_options_fail_at_alter(conn, alter, message, hint):
    before = options_of(conn, "SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'good_contacts'::regclass")
    for command in ("ALTER FOREIGN TABLE", "ALTER TABLE"):
        error = failure(conn, f"{command} good_contacts {alter}")
        assert error.diag.message_primary.endswith(f"intercom_fdw: foreign table public.good_contacts: {message}")
        assert hint in error.diag.message_hint
    assert options_of(conn, "SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'good_contacts'::regclass") \
        == before


@pytest.mark.parametrize("options,message,hint", [
    (f"access_token '{TOKEN}', region 'eu'", "unknown user mapping option region", "access_token"),
    ("acces_token 'x'", "unknown user mapping option acces_token", "access_token"),
    ("", "the access_token option is missing or empty", "OPTIONS (access_token '...')"),
    ("access_token ''", "the access_token option is missing or empty", "ADD access_token"),
])
def test_bad_user_mapping_options_fail_at_create(conn, options, message, hint):
    error = failure(conn, "CREATE USER MAPPING FOR PUBLIC SERVER good" + (f" OPTIONS ({options})" if options else ""))
    assert error.diag.message_primary.endswith(f"intercom_fdw: user mapping for PUBLIC on server good: {message}")
    assert hint in error.diag.message_hint


@pytest.mark.parametrize("alter,message", [
    ("ADD region 'eu'", "unknown user mapping option region"),
    ("SET access_token ''", "the access_token option is missing or empty"),
    ("DROP access_token", "the access_token option is missing or empty"),
])
def test_bad_user_mapping_options_fail_at_alter(conn, alter, message):
    error = failure(conn, f"ALTER USER MAPPING FOR CURRENT_USER SERVER good OPTIONS ({alter})")
    assert error.diag.message_primary.endswith(f"intercom_fdw: user mapping for postgres on server good: {message}")


def test_a_role_that_is_not_superuser_is_checked_too(conn):
    # pg_user_mapping is readable by superusers only: the check runs as the extension's owner.
    conn.execute(f"DO $$ BEGIN CREATE ROLE {ROLE}; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    conn.execute(f"GRANT USAGE ON FOREIGN SERVER good TO {ROLE}")
    conn.execute(f"SET ROLE {ROLE}")
    try:
        error = failure(conn, f"CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (access_token '{TOKEN}', "
                              "pushdown 'false')")
        assert "unknown user mapping option pushdown" in error.diag.message_primary
        conn.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (access_token '{TOKEN}')")
    finally:
        conn.execute("RESET ROLE")
    conn.execute(f"DROP USER MAPPING FOR {ROLE} SERVER good")
    conn.execute(f"REVOKE USAGE ON FOREIGN SERVER good FROM {ROLE}")


def test_good_options_pass(conn):
    conn.execute(f"CREATE SERVER full_options FOREIGN DATA WRAPPER multicorn OPTIONS ({WRAPPER}, "
                 "api_url 'http://127.0.0.1:1', api_version '2.14', pushdown 'false', suppress_extended_requests "
                 "'on', concurrency '4', connect_timeout '5', read_timeout '30', max_retries '2')")
    conn.execute("ALTER SERVER full_options OPTIONS (ADD region 'au', DROP api_url)")
    conn.execute("CREATE FOREIGN TABLE full_tickets (id text, size integer OPTIONS (ticket_attribute 'size', "
                 "data_type 'integer')) SERVER full_options OPTIONS (object 'tickets', ticket_type_id '7', "
                 "suppress_extended_requests 'true', row_estimate '50')")  # the server's 'on', said otherwise
    conn.execute("ALTER FOREIGN TABLE full_tickets OPTIONS (SET object 'conversations', DROP ticket_type_id)")
    conn.execute(f"CREATE USER MAPPING FOR PUBLIC SERVER full_options OPTIONS (access_token '{TOKEN}')")
    conn.execute("ALTER USER MAPPING FOR PUBLIC SERVER full_options OPTIONS (SET access_token 'another')")
    options = options_of(conn, "SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'full_options'")
    assert "region=au" in options and not any(o.startswith("api_url=") for o in options)


# A table and its server may not set one option to different values: multicorn2 merges a table's
# options with its server's, the server's winning, so the table's would be silently overruled.

def lean_server(conn, name, **options):
    extra = "".join(f", {k} '{v}'" for k, v in options.items())
    conn.execute(f"CREATE SERVER {name} FOREIGN DATA WRAPPER multicorn OPTIONS ({WRAPPER}, region 'us'{extra})")
    conn.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {name} OPTIONS (access_token '{TOKEN}')")


def table_options(conn, table):
    return options_of(conn, f"SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = '{table}'::regclass")


def server_options(conn, server):
    return options_of(conn, f"SELECT srvoptions FROM pg_foreign_server WHERE srvname = '{server}'")


@pytest.mark.parametrize("option,server_value,table_value", [
    ("suppress_extended_requests", "true", "false"),
    ("suppress_extended_requests", "false", "on"),
    ("modify_batch_size", "10", "20"),
])
def test_a_table_contradicting_its_server_fails_at_create_and_alter(conn, option, server_value, table_value):
    server = f"lean_{option}_{server_value}"
    lean_server(conn, server, **{option: server_value})
    conn.execute(f"CREATE FOREIGN TABLE {server}_plain (id text) SERVER {server} OPTIONS (object 'articles')")
    error = failure(conn, f"CREATE FOREIGN TABLE {server}_rich (id text) SERVER {server} "
                          f"OPTIONS (object 'articles', {option} '{table_value}')")
    assert error.diag.message_primary.endswith(
        f"intercom_fdw: foreign table public.{server}_rich: option {option} '{table_value}' differs from the value "
        f"set on server {server} ('{server_value}')")
    assert f"the value of server {server} would apply" in error.diag.message_detail
    assert f"OPTIONS (DROP {option})" in error.diag.message_hint and "same value" in error.diag.message_hint
    assert conn.execute(f"SELECT to_regclass('{server}_rich')").fetchone()[0] is None
    before = table_options(conn, f"{server}_plain")
    for command in ("ALTER FOREIGN TABLE", "ALTER TABLE"):
        error = failure(conn, f"{command} {server}_plain OPTIONS (ADD {option} '{table_value}')")
        assert f"foreign table public.{server}_plain: option {option} '{table_value}' differs" \
            in error.diag.message_primary
    assert table_options(conn, f"{server}_plain") == before


def test_a_server_contradicting_its_tables_fails_at_alter_and_names_them(conn):
    lean_server(conn, "open_server")
    for table, value in (("open_b", "false"), ("open_a", "off"), ("open_c", "true")):
        conn.execute(f"CREATE FOREIGN TABLE {table} (id text) SERVER open_server "
                     f"OPTIONS (object 'articles', suppress_extended_requests '{value}')")
    conn.execute("CREATE FOREIGN TABLE open_d (id text) SERVER open_server OPTIONS (object 'articles', "
                 "modify_batch_size '5')")
    before = server_options(conn, "open_server")
    error = failure(conn, "ALTER SERVER open_server OPTIONS (ADD suppress_extended_requests 'true')")
    assert error.diag.message_primary.endswith(
        "intercom_fdw: server open_server: option suppress_extended_requests 'true' differs from the value set on "
        "foreign table public.open_a ('off'), foreign table public.open_b ('false')")
    assert "from public.open_a, public.open_b (ALTER FOREIGN TABLE ... OPTIONS (DROP suppress_extended_requests))" \
        in error.diag.message_hint
    error = failure(conn, "ALTER SERVER open_server OPTIONS (ADD modify_batch_size '50')")
    assert "option modify_batch_size '50' differs from the value set on foreign table public.open_d ('5')" \
        in error.diag.message_primary and "from public.open_d (" in error.diag.message_hint
    assert server_options(conn, "open_server") == before
    # once the tables agree (or say nothing), the server may set it
    conn.execute("ALTER FOREIGN TABLE open_a OPTIONS (SET suppress_extended_requests 'yes')")
    conn.execute("ALTER FOREIGN TABLE open_b OPTIONS (DROP suppress_extended_requests)")
    conn.execute("ALTER SERVER open_server OPTIONS (ADD suppress_extended_requests 'true', modify_batch_size '5')")
    error = failure(conn, "ALTER SERVER open_server OPTIONS (SET suppress_extended_requests 'false')")
    assert "public.open_a ('yes'), foreign table public.open_c ('true')" in error.diag.message_primary


def test_a_table_and_its_server_agreeing_pass(conn):
    lean_server(conn, "agreeing", suppress_extended_requests="true", modify_batch_size="10")
    conn.execute("CREATE FOREIGN TABLE agreeing_same (id text) SERVER agreeing "
                 "OPTIONS (object 'articles', suppress_extended_requests 'on', modify_batch_size '10')")
    conn.execute("CREATE FOREIGN TABLE agreeing_silent (id text) SERVER agreeing OPTIONS (object 'articles')")
    conn.execute("ALTER FOREIGN TABLE agreeing_silent OPTIONS (ADD suppress_extended_requests 'true')")
    conn.execute("ALTER SERVER agreeing OPTIONS (SET suppress_extended_requests 't', DROP modify_batch_size)")
    # only the table sets it: nothing to contradict, whatever the value
    conn.execute("ALTER FOREIGN TABLE agreeing_silent OPTIONS (ADD modify_batch_size '99')")
    conn.execute("ALTER SERVER agreeing OPTIONS (DROP suppress_extended_requests)")
    conn.execute("ALTER FOREIGN TABLE agreeing_same OPTIONS (SET suppress_extended_requests 'false')")
    assert table_options(conn, "agreeing_same") == ["object=articles", "suppress_extended_requests=false",
                                                    "modify_batch_size=10"]


def test_import_foreign_schema_is_checked_and_passes(pg, conn, emulator):
    conn.execute(sql.SQL("CREATE SERVER imported FOREIGN DATA WRAPPER multicorn OPTIONS ({}, api_url {})").format(
        sql.SQL(WRAPPER), sql.Literal(emulator.url)))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER imported OPTIONS (access_token {})").format(
        sql.Literal(emulator.token)))
    conn.execute("CREATE SCHEMA imported")
    conn.execute("IMPORT FOREIGN SCHEMA intercom FROM SERVER imported INTO imported")
    names = {r[0] for r in conn.execute("SELECT foreign_table_name FROM information_schema.foreign_tables "
                                        "WHERE foreign_table_schema = 'imported'")}
    assert {"contacts", "companies", "tickets"} <= names and any(n.endswith("_tickets") for n in names)
    # the imported custom field columns carry options, and they were checked
    assert conn.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'imported.contacts'::regclass "
                        "AND attfdwoptions IS NOT NULL").fetchone()[0] > 0


def test_other_multicorn_servers_are_left_alone(conn):
    conn.execute("CREATE SERVER other FOREIGN DATA WRAPPER multicorn "
                 "OPTIONS (wrapper 'tests.runtime.testfdw.GeneratorFdw', regoin 'mars', pushdown 'maybe')")
    conn.execute("ALTER SERVER other OPTIONS (ADD concurrency '1000')")
    conn.execute("CREATE FOREIGN TABLE other_table (id text OPTIONS (colour 'red')) SERVER other "
                 "OPTIONS (object 'contact', rows '0')")
    conn.execute("ALTER FOREIGN TABLE other_table OPTIONS (ADD pushdwon 'x')")
    conn.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER other OPTIONS (shared 'mapping')")
    conn.execute("ALTER USER MAPPING FOR CURRENT_USER SERVER other OPTIONS (ADD region 'eu')")
    assert conn.execute("SELECT count(*) FROM other_table").fetchone()[0] == 0


def test_the_event_trigger_belongs_to_the_extension(conn):
    row = conn.execute("""
        SELECT t.evtevent, t.evtenabled, t.evttags
        FROM pg_event_trigger t
        JOIN pg_depend d ON d.classid = 'pg_event_trigger'::regclass AND d.objid = t.oid AND d.deptype = 'e'
        JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'intercom_fdw'
        WHERE t.evtname = 'intercom_fdw_check_options'""").fetchone()
    assert row[0] == "ddl_command_end" and row[1] == "O"
    assert "IMPORT FOREIGN SCHEMA" in row[2] and "CREATE USER MAPPING" in row[2]


LOGGED_TOKEN = "tok-log-secret-9090"


def test_a_rejected_user_mapping_never_puts_its_token_in_the_server_log(pg, conn):
    # PostgreSQL logs the text of a failing statement (log_min_error_statement): the event trigger
    # turns that off while it checks a user mapping, for superusers and other roles alike.
    conn.execute(f"DO $$ BEGIN CREATE ROLE {ROLE}; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    conn.execute(f"GRANT USAGE ON FOREIGN SERVER good TO {ROLE}")
    statements = [f"CREATE USER MAPPING FOR PUBLIC SERVER good OPTIONS (access_token '{LOGGED_TOKEN}', region 'eu')",
                  f"ALTER USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (SET access_token '{LOGGED_TOKEN}', "
                  "ADD region 'eu')"]
    for statement in statements:
        failure(conn, statement)
    conn.execute(f"SET ROLE {ROLE}")
    try:
        failure(conn, f"CREATE USER MAPPING FOR CURRENT_USER SERVER good OPTIONS (access_token '{LOGGED_TOKEN}', "
                      "pushdown 'false')")
    finally:
        conn.execute("RESET ROLE")
        conn.execute(f"REVOKE USAGE ON FOREIGN SERVER good FROM {ROLE}")
    # the control: a rejected server is still logged with its statement, so the log would show a token
    failure(conn, f"CREATE SERVER logged FOREIGN DATA WRAPPER multicorn OPTIONS ({WRAPPER}, regoin 'log-marker')")
    log = pg.log.read_text(errors="replace")
    assert "STATEMENT:  CREATE SERVER logged" in log and "log-marker" in log
    assert "user mapping for PUBLIC on server good: unknown user mapping option region" in log  # the error itself
    assert LOGGED_TOKEN not in log and TOKEN not in log


def test_a_token_put_on_a_table_server_or_column_never_reaches_the_server_log(pg, conn):
    # an easy mistake, which the check refuses: the statement's text must not be logged either
    secret = "tok-misplaced-7171"
    conn.execute("CREATE FOREIGN TABLE misplaced (id text) SERVER good OPTIONS (object 'contacts')")
    try:
        for statement in (f"ALTER FOREIGN TABLE misplaced OPTIONS (ADD access_token '{secret}')",
                          f"ALTER FOREIGN TABLE misplaced ALTER COLUMN id OPTIONS (ADD token '{secret}')",
                          f"CREATE SERVER misplaced FOREIGN DATA WRAPPER multicorn OPTIONS ({WRAPPER}, "
                          f"access_token '{secret}')"):
            failure(conn, statement)
    finally:
        conn.execute("DROP FOREIGN TABLE misplaced")
    log = pg.log.read_text(errors="replace")
    assert "misplaced" in log  # the errors themselves are logged
    assert secret not in log


def test_statement_logging_is_back_after_a_user_mapping_passes_its_check(conn):
    before = conn.execute("SHOW log_min_error_statement").fetchone()[0]
    with conn.transaction():
        conn.execute(f"CREATE USER MAPPING FOR PUBLIC SERVER good OPTIONS (access_token '{TOKEN}')")
        assert conn.execute("SHOW log_min_error_statement").fetchone()[0] == before == "error"
        conn.execute("DROP USER MAPPING FOR PUBLIC SERVER good")
