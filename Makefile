# The two commands a person needs: `make run` and `make test`. CI runs `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STATIC := src/hubbub/static/index.html
WEB_SOURCES := $(shell find web/src web/public web/index.html web/vite.config.ts web/tsconfig*.json -type f 2>/dev/null)

.PHONY: run scale-out test install web browser postgres redis nginx lint unit api e2e web-test bench bench-quick openapi package aws-local clean

run: install web ## install everything, build the web app, serve on http://127.0.0.1:8000
	$(BIN)/hubbub serve

scale-out: install web postgres redis nginx ## nginx, 2 processes, PostgreSQL, Redis on :8000
	$(BIN)/python -m scripts.scale_out $(SCALE_OUT_ARGS)

test: install web lint browser postgres redis nginx ## install everything and run every test suite
	$(BIN)/pytest -q
	HUBBUB_TEST_STORE=postgres $(BIN)/pytest -q tests/api  # the API suite again, on PostgreSQL
	HUBBUB_TEST_STORE=dynamodb $(BIN)/pytest -q tests/api  # again, on DynamoDB (moto's server; message search answers 501 there)
	HUBBUB_TEST_STORE=dynamodb HUBBUB_TEST_TOPOLOGY=aws-local $(BIN)/pytest -q tests/api  # again, on the serverless stack under emulation (make aws-local), less what tests/api/aws_local_gaps.py lists
	HUBBUB_TEST_STORE=postgres HUBBUB_TEST_TOPOLOGY=two-processes $(BIN)/pytest -q tests/api  # again, each test's users on two processes sharing PostgreSQL and Redis
	HUBBUB_TEST_STORE=postgres HUBBUB_TEST_TOPOLOGY=proxy $(BIN)/pytest -q tests/api  # again, through nginx in front of two processes
	npm test --prefix web

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

web: $(STATIC)

web/node_modules/.installed: web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund
	touch $@

$(STATIC): web/node_modules/.installed $(WEB_SOURCES)
	npm run build --prefix web

browser: ## Debian's chromium for the browser tests
	scripts/ensure-chromium.sh

postgres: ## Debian's PostgreSQL binaries: the tests start a throwaway server of their own
	scripts/ensure-postgres.sh

redis: ## Debian's redis-server binary: the tests start a throwaway server of their own
	scripts/ensure-redis.sh

nginx: ## Debian's nginx binary (never its system service): `make scale-out` runs its own
	scripts/ensure-nginx.sh

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/mypy scripts

openapi: install ## regenerate docs/openapi.json from the code
	$(BIN)/hubbub openapi > docs/openapi.json

aws-local: install redis ## the serverless stack under emulation: HTTP API on :3000, WebSocket on :3001
	$(BIN)/python -m scripts.aws_local $(AWS_LOCAL_ARGS)

package: install ## build every AWS stack offline (osls package) and cfn-lint the templates
	$(BIN)/python -m scripts.aws_package

bench: install ## the full benchmark suite (minutes; never part of `make test`)
	$(BIN)/python -m bench run

clean:
	rm -rf $(VENV) web/node_modules src/hubbub/static infra/node_modules infra/.build infra/*/.serverless
