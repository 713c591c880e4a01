"""The registry: every object spec, by table name. The only place that names spec modules, and the
one that resolves the tables specs name (ParentKey.parent, CustomFields.definitions) into their specs."""
from dataclasses import replace

from intercom_fdw.errors import ConfigurationError
from intercom_fdw.objects import admins, companies, contacts, conversations, help_center, tickets, workspace

_DECLARED = {
    spec.table: spec
    for module in (admins, help_center, companies, contacts, conversations, tickets, workspace)
    for spec in module.SPECS
}


def _resolved(spec):
    """The spec with the specs it names by table filled in: its parent's, its custom fields' definitions'."""
    if spec.parent and spec.parent.parent:
        spec = replace(spec, parent=replace(spec.parent, parent_spec=_DECLARED[spec.parent.parent]))
    if spec.custom_fields and spec.custom_fields.definitions:
        spec = replace(spec, custom_fields=replace(spec.custom_fields,
                                                   definitions_spec=_DECLARED[spec.custom_fields.definitions]))
    return spec


SPECS = {table: _resolved(spec) for table, spec in _DECLARED.items()}


def spec_for(table: str):
    try:
        return SPECS[table]
    except KeyError:
        raise ConfigurationError(
            f"unknown Intercom object {table!r}",
            hint="Set the table option object to one of: " + ", ".join(sorted(SPECS)),
        ) from None
