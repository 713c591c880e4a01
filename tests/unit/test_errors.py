"""errors.py: what an error may show of the values it echoes (secrets scrubbed, long values shortened)."""
from intercom_fdw import errors
from intercom_fdw.client import error_mapping


def test_a_long_value_keeps_its_start_and_says_its_length():
    path = "/contacts/" + "z" * 100000 + "/archive"
    assert errors.shortened(f"POST {path}: x") == "POST /contacts/" + "z" * 40 + "…(100000 characters)/archive: x"


def test_values_up_to_the_limit_are_left_whole():
    text = "id '" + "a" * errors.LONGEST_VALUE + "' is not, " + "b" * errors.LONGEST_VALUE + "; c"
    assert errors.shortened(text) == text


def test_a_long_text_of_short_words_is_bounded():
    text = "x " * 10000
    assert errors.shortened(text) == text[:errors.LONGEST_TEXT] + "…(20000 characters in all)"


def test_message_hint_and_detail_are_shortened_and_the_detail_added_later_too():
    long_id = "q" * 5000
    error = errors.ApiRejectedError(f"no {long_id}", hint=f"check {long_id}", detail=f"row {long_id}", status=400)
    short = "q" * 40 + "…(5000 characters)"
    assert (error.message, error.hint, error.detail) == (f"no {short}", f"check {short}", f"row {short}")
    error.detail = long_id  # as actions/executor.py adds to a detail
    assert errors.reported_detail(error) == f"{short}; HTTP status 400"


def test_a_long_secret_is_scrubbed_before_it_could_be_shortened():
    secret = "s3cr3t" * 100
    errors.register_secret(secret)
    error = errors.AuthenticationError(f"token {secret} refused")
    assert error.message == "token [secret] refused"


def test_a_placeholder_in_a_hint_is_not_taken_for_a_secret():
    # setup's HINT for an unset --token-env variable read "export INTERCOM_TOKEN=[secret]"
    error = errors.ConfigurationError("environment variable INTERCOM_TOKEN is not set or empty",
                                      hint="export INTERCOM_TOKEN=... (the workspace's access token)")
    assert error.hint == "export INTERCOM_TOKEN=... (the workspace's access token)"
    assert errors.scrub("token=...abc, password: '....x'") == "token=[secret], password: '[secret]'"
    assert errors.scrub("access_token=tok-1234 token: ...") == "access_token=[secret] token: ..."


def test_the_hint_points_at_intercoms_message_only_when_there_is_one():
    listed = {"type": "error.list", "errors": [{"code": "parameter_invalid", "message": "email is invalid"}]}
    assert error_mapping.error_for_response(400, listed, "POST", "/contacts").hint == error_mapping.CLIENT_ERROR_HINT
    for body in ("Invalid HTTP request received.", "", {"type": "error.list", "errors": []}):
        error = error_mapping.error_for_response(400, body, "GET", "/contacts/x")
        assert error.hint == error_mapping.UNEXPLAINED_CLIENT_ERROR_HINT, body
        assert "Intercom's message" not in error.hint
