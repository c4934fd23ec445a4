# citylake: the two commands in README.md are `make nightly` and `make test`.
.PHONY: setup nightly test unit minio-start minio-stop postgres-start postgres-stop constraints

setup:
	infra/setup.sh

# A full nightly over a generated city, through Airflow, on the embedded default (local lake).
nightly: setup
	infra/nightly.sh $(RUN_DATE) $(PEOPLE)

# The whole test suite, end-to-end runs included (CI runs exactly this), a module per worker
# at a time on as many pytest-xdist workers as cores, the longest modules first (tests/conftest.py).
test: setup
	.venv/bin/python -m pytest -n auto --dist loadfile --no-loadscope-reorder

# The fast layer only: transforms, validators, DAG policy.
unit: setup
	.venv/bin/python -m pytest -m "not slow"

minio-start:
	@infra/minio.sh start

minio-stop:
	@infra/minio.sh stop

# The departments' exchange database (PostgreSQL on 127.0.0.1:5433, cluster in data/postgres).
postgres-start:
	@infra/postgres.sh start

postgres-stop:
	@infra/postgres.sh stop

# Re-freeze the resolved environment after changing a pin in pyproject.toml.
constraints:
	rm -rf /tmp/citylake-freeze && python3.11 -m venv /tmp/citylake-freeze
	/tmp/citylake-freeze/bin/pip install -q -e ".[dev]"
	{ head -2 constraints.txt; /tmp/citylake-freeze/bin/pip freeze --exclude-editable; } > constraints.new && mv constraints.new constraints.txt
