"""Row estimates from recorded whole-table counts (client/totals.py), and which reads record them."""
from intercom_fdw.client import totals
from intercom_fdw.objects import SPECS
from intercom_fdw.planning import Condition, ScanOptions, plan_scan
from intercom_fdw.planning.scan import table_count_key

NOW = 1_700_000_000


def plan(table, conditions=(), columns=("id",), counts=None, **options):
    return plan_scan(SPECS[table], conditions, columns, (), None, None,
                     ScanOptions(now=NOW, table_counts=counts, **options))


def test_a_recorded_count_sizes_the_table_and_its_filtered_scans():
    guess = plan("contacts").estimated_rows
    counts = {"contacts": 321}.get
    assert plan("contacts", counts=counts).estimated_rows == 321 != guess
    assert plan("contacts", [Condition("role", "=", "lead")], counts=counts).estimated_rows < 321
    assert plan("contacts", counts=counts, row_estimate=5).estimated_rows == 5  # the option is the user's word


def test_only_reads_of_the_whole_table_carry_a_count_key():
    assert plan("contacts").calls[0].count_key == "contacts"
    assert plan("contacts", [Condition("role", "=", "lead")]).calls[0].count_key is None
    assert plan("contacts", [Condition("id", "=", "abc")]).calls[0].count_key is None
    partitioned = plan("contacts", scan_mode="partitioned")
    assert partitioned.partitions and partitioned.calls[0].count_key == "contacts"
    bounded = plan("contacts", [Condition("created_at", ">", NOW - 86400)], scan_mode="partitioned")
    assert bounded.calls[0].count_key is None
    assert plan("tickets").calls[0].count_key == "tickets"


def test_a_ticket_type_table_is_counted_under_its_ticket_type():
    spec = SPECS["tickets"]
    option = next(iter(spec.table_filters))
    assert table_count_key(spec, {option: "55"}) == f"tickets;{option}=55"
    assert table_count_key(spec, {}) == "tickets"


def test_counts_are_kept_per_workspace_for_a_short_while():
    totals.record("ws-a", "contacts", 12, now=100.0)
    totals.record("ws-a", "contacts", "many", now=100.0)  # not a count: ignored
    assert totals.lookup("ws-a", "contacts", now=100.0 + totals.TTL_S) == 12
    assert totals.lookup("ws-a", "contacts", now=101.0 + totals.TTL_S) is None
    assert totals.lookup("ws-b", "contacts", now=100.0) is None
    assert totals.counts_for("ws-a", now=150.0)("contacts") == 12
