from intercom_fdw.objects import SPECS


def test_every_custom_field_model_but_tickets_is_one_data_attributes_lists():
    # tickets' attributes come with their ticket types (one table per type), not from /data_attributes
    models = {spec.table: spec.custom_fields.model for spec in SPECS.values() if spec.custom_fields}
    assert {t for t, m in models.items() if m is None} == {"tickets"}
    assert {m for m in models.values() if m} == set(SPECS["data_attributes"].parent.values)
