"""The registry: every object spec, by table name. The only place that names spec modules."""
from intercom_fdw.errors import ConfigurationError
from intercom_fdw.objects import admins, companies, contacts, conversations, help_center, tickets, workspace

SPECS = {
    spec.table: spec
    for module in (admins, help_center, companies, contacts, conversations, tickets, workspace)
    for spec in module.SPECS
}


def spec_for(table: str):
    try:
        return SPECS[table]
    except KeyError:
        raise ConfigurationError(
            f"unknown Intercom object {table!r}",
            hint="Set the table option object to one of: " + ", ".join(sorted(SPECS)),
        ) from None
