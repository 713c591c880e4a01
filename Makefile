# The two commands of the README. Both install what they need first (scripts/bootstrap.sh).
.PHONY: demo test bootstrap

bootstrap:
	@bash scripts/bootstrap.sh

test: bootstrap
	@.venv/bin/python -m pytest $(PYTEST_ARGS)

demo: bootstrap
	@.venv/bin/intercom-fdw demo $(DEMO_ARGS)
