from intercom_fdw.objects import SPECS
from intercom_fdw.schema_import import DATA_ATTRIBUTE_FLAVOURS


def test_data_attribute_flavours_are_the_models_data_attributes_lists():
    assert DATA_ATTRIBUTE_FLAVOURS == {"contact", "company", "conversation"}


def test_every_custom_field_flavour_but_tickets_takes_its_attributes_from_data_attributes():
    # tickets' attributes come with their ticket types (one table per type), not from /data_attributes
    flavours = {spec.table: spec.custom_fields.flavour for spec in SPECS.values() if spec.custom_fields}
    assert {t for t, f in flavours.items() if f not in DATA_ATTRIBUTE_FLAVOURS} == {"tickets"}
    assert {f for f in flavours.values() if f in DATA_ATTRIBUTE_FLAVOURS} == DATA_ATTRIBUTE_FLAVOURS
