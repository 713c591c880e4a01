-- Runs once when the image's cluster is created: the runtime and the action functions.
CREATE EXTENSION IF NOT EXISTS multicorn;
CREATE EXTENSION IF NOT EXISTS plpython3u;
CREATE EXTENSION IF NOT EXISTS intercom_fdw;
