# gatehouse — run `make help` for the list of targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Every Go module of the repository, as listed in go.work.
MODULES := service spec infra client local

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

FIREBASE_TOOLS := .cache/firebase/node_modules/.bin/firebase

.PHONY: test
test: build-alone emulator ## Run every test: unit, process, e2e (installs what they need)
	@for m in $(MODULES); do echo "== go test $$m"; (cd $$m && go test -count=1 ./...); done

.PHONY: build-alone
build-alone: ## Check each module builds on its own (GOWORK=off), as Pulumi's Go host needs
	@for m in $(MODULES); do echo "== GOWORK=off go build $$m"; (cd $$m && GOWORK=off go build ./... && GOWORK=off go vet ./...); done

.PHONY: bench
bench: ## Run the benchmarks and print the measured ratios
	cd service && go test -run '^$$' -bench 'Hello' -benchtime=50000x .
	cd service && go test -run '^$$' -bench 'Startup' -benchtime=20x .
	cd local && go test -run '^$$' -bench 'Gateway' -benchtime=20000x .

GATEWAY_PORT ?= 8080
BACKEND_PORT ?= 8081
AUTH_PORT ?= 9099

.PHONY: local
local: emulator ## Run the whole stack offline: backend, local gateway, Firebase Auth emulator (Ctrl-C stops)
	cd local && go run ./cmd/twin --gateway-port $(GATEWAY_PORT) --backend-port $(BACKEND_PORT) --auth-port $(AUTH_PORT)

.PHONY: fmt
fmt: ## gofmt every module
	gofmt -w $(MODULES)

# Values for `make spec`; override on the command line.
BACKEND_URL ?= https://gatehouse-backend-example-ew.a.run.app
FIREBASE_PROJECT ?= demo-gatehouse

.PHONY: spec
spec: ## Render and validate the OpenAPI document (BACKEND_URL=… FIREBASE_PROJECT=…)
	@cd spec && go run ./cmd/render --backend-url "$(BACKEND_URL)" --firebase-project "$(FIREBASE_PROJECT)"

.PHONY: emulator
emulator: $(FIREBASE_TOOLS) ## Install the Firebase Auth emulator (firebase-tools, pinned) with npm

$(FIREBASE_TOOLS):
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ (the emulator tests will be skipped)"; exit 0; }
	npm install --prefix .cache/firebase --no-audit --no-fund --loglevel=error firebase-tools@$$(sed -n 's/^const FirebaseToolsVersion = "\(.*\)"/\1/p' client/emulator/emulator.go)

.PHONY: build
build: ## Build the gatehouse CLI and the backend into bin/
	cd client && go build -o ../bin/gatehouse ./cmd/gatehouse
	cd service && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o ../bin/service .
