# The two commands of the README. Both install what they need first (scripts/bootstrap.sh).
#   make test PYTEST_ARGS='tests/integration -x' RUNTIMES='bundled multicorn2'   (scripts/test.sh)
.PHONY: demo test bootstrap

bootstrap:
	@bash scripts/bootstrap.sh

test: bootstrap
	@PYTEST_ARGS='$(subst ','\'',$(PYTEST_ARGS))' RUNTIMES='$(RUNTIMES)' bash scripts/test.sh

demo: bootstrap
	@.venv/bin/intercom-fdw demo $(DEMO_ARGS)
