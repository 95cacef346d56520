# gatehouse — run `make help` for the list of targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Every Go module of the repository, as listed in go.work.
MODULES := service spec stack infra client local

# Each target's help is "## @GROUP text"; help prints the groups in this order.
HELP_GROUPS := start test plan cloud gcp
.PHONY: help
help: ## @start List the targets, by topic
	@if [ -t 1 ]; then c='\033[36m' r='\033[0m'; else c='' r=''; fi; \
	awk -v c="$$c" -v r="$$r" -v order="$(HELP_GROUPS)" 'BEGIN { FS = ":.*## "; n = split(order, groups, " "); \
	  title["start"] = "Run it on this machine"; title["test"] = "Test and check"; \
	  title["plan"] = "Preview offline, no cloud account"; title["cloud"] = "Deploy with the Pulumi CLI (STACK=dev by default)"; \
	  title["gcp"] = "A local Google Cloud the real pulumi up deploys to, on loopback" } \
	/^[a-zA-Z_-]+:.*## @[a-z]+ / { g = substr($$2, 2, index($$2, " ") - 2); text = substr($$2, index($$2, " ") + 1); gsub(/\$$\$$/, "$$", text); \
	  lines[g] = lines[g] sprintf("  %s%-14s%s %s\n", c, $$1, r, text) } \
	END { for (i = 1; i <= n; i++) if (lines[groups[i]] != "") printf "%s%s:\n%s", (i > 1 ? "\n" : ""), title[groups[i]], lines[groups[i]] }' $(MAKEFILE_LIST)

.PHONY: test
test: build-alone emulator web chromium ## @test Run every test: unit, process, e2e, browser, image, the real Pulumi plan (installs what they need)
	@for m in $(MODULES); do echo "== go test $$m"; (cd $$m && go test -count=1 ./...); done
	@$(MAKE) --no-print-directory image-test IMAGE_STACKS="dev v2"
	@$(MAKE) --no-print-directory plan-and-cloud-test

# plan-test and cloud-test side by side, each with a Docker daemon of its own (plan-test's keeps its
# store in .cache/docker-plan): one daemon would make them take turns, as local/image/docker.sh's lock
# did before (plan-test's first preview waited out the whole of cloud-test). plan-test's output is kept
# in a file and printed after cloud-test's, so neither interleaves. A job in the background of a
# shell without job control ignores SIGINT, so Ctrl-C would leave plan-test running: it runs in a
# process group of its own (setsid, util-linux), which the recipe stops on every way out.
.PHONY: plan-and-cloud-test
plan-and-cloud-test: ## @test plan-test and cloud-test at once (plan-test's output printed after cloud-test's)
	@mkdir -p .cache; log=.cache/plan-test.log; \
	echo "== plan-test runs beside cloud-test: its output follows cloud-test's (and is in $$log)"; \
	setsid $(MAKE) --no-print-directory plan-test > $$log 2>&1 & pid=$$!; \
	trap 'kill -TERM -- -$$pid 2>/dev/null || true' EXIT; \
	c=0; $(MAKE) --no-print-directory cloud-test || c=$$?; \
	p=0; wait $$pid || p=$$?; cat $$log; \
	if [ $$c != 0 ] || [ $$p != 0 ]; then echo "plan-test exit $$p, cloud-test exit $$c"; exit 1; fi

# How the backend image is built. infra's docker.Image uses the same values
# (infra/components: ImagePlatform, ImageContext, ImageDockerfile); a test in
# infra fails if they drift apart.
IMAGE_PLATFORM := linux/amd64
IMAGE_CONTEXT := service
IMAGE_DOCKERFILE := service/cmd/hello/Dockerfile
IMAGE_TEST_ENV = GATEHOUSE_IMAGE_TEST=1 IMAGE_PLATFORM=$(IMAGE_PLATFORM) IMAGE_CONTEXT=$(IMAGE_CONTEXT) IMAGE_DOCKERFILE=$(IMAGE_DOCKERFILE)

# image-test builds every backend's image of Pulumi.$(STACK).yaml (IMAGE_STACKS
# names several stacks: make test builds both example stacks') from its entry's
# context, Dockerfile and CMD, with a real Docker daemon, and runs the
# containers, offline; each context is packed from the backend's own ignore
# file, as pulumi-docker packs it, so a wrong ignore file fails here rather than
# at pulumi up. It also builds a backend `make new-backend` writes, and the same
# backend with a planted wrong ignore file, which must fail. local/image/docker.sh installs Debian's
# docker.io (and busybox-static for a stand-in) when missing, starts a daemon
# of this checkout and run (no iptables, no bridge: containers use --network
# host) and stops it, on every exit path. Because base images
# cannot be pulled here, it creates LOCAL STAND-INS under the exact names of
# the Dockerfile's ARG defaults (a Go builder from this machine's toolchain; a
# distroless-like runtime with CA certs, nonroot 65532 and /tmp). They exist
# only for this offline test: real builds (pulumi up) pull the real images.
IMAGE_STACKS ?= $(STACK)
.PHONY: image-test
image-test: ## @test Build and run every backend image of Pulumi.$(STACK).yaml as pulumi up will, with Docker, offline
	@local/image/docker.sh run bash -c "set -eo pipefail; cd local && $(IMAGE_TEST_ENV) IMAGE_STACK_FILES='$(foreach s,$(IMAGE_STACKS),Pulumi.$(s).yaml)' \
	  go test -count=1 -v -run 'TestImage$$|TestNotesImage|TestImageNeedsCMD|TestDockerScript|TestStackImages|TestScaffoldedImage' ./image/ | grep --line-buffered -v '^=== RUN'"

.PHONY: build-alone
build-alone: same-versions ## @test Check each module builds on its own (GOWORK=off), as Pulumi's Go host needs
	@for m in $(MODULES); do echo "== GOWORK=off go build $$m"; (cd $$m && GOWORK=off go build ./... && GOWORK=off go vet ./...); done

# Pulumi's Go host compiles infra/ inside go.work (workspace mode), while it lists modules, and
# `GOWORK=off` builds, use infra/go.mod alone: both must pick the same version of every dependency,
# so that the program Pulumi builds is the program the tests build. `go work sync` fixes a drift.
.PHONY: same-versions
same-versions: ## @test Check every module has go.work's go line, and workspace and GOWORK=off builds resolve every dependency to the same version
	@echo "== one go line in go.work and every module"
	@w=$$(sed -n 's/^go //p' go.work); bad=0; for m in $(MODULES); do g=$$(sed -n 's/^go //p' $$m/go.mod); \
	  [ "$$g" = "$$w" ] || { echo "$$m/go.mod says go $$g, go.work go $$w: one go line everywhere"; bad=1; }; done; [ $$bad = 0 ]
	@echo "== same dependency versions with and without go.work"
	@list() { go list -deps -test -f '{{with .Module}}{{.Path}}@{{.Version}}{{end}}' ./... | grep -v '^github.com/gatehouse/' | sort -u; }; bad=0; \
	for m in $(MODULES); do \
	  ws=$$(cd $$m && list); \
	  alone=$$(cd $$m && GOWORK=off list); \
	  if [ "$$ws" != "$$alone" ]; then bad=1; echo "$$m: go.work and GOWORK=off disagree (< workspace, > alone):"; \
	    diff <(echo "$$ws") <(echo "$$alone") | grep '^[<>]'; fi; \
	done; \
	[ $$bad = 0 ] || { echo "run: go work sync (then GOWORK=off go mod tidy in the module)"; exit 1; }

.PHONY: bench
bench: ## @test Run the benchmarks and print the measured ratios
	cd service && go test -run '^$$' -bench 'Hello' -benchtime=270000x ./hello/
	cd service && go test -run '^$$' -bench 'Startup' -benchtime=20x ./cmd/hello/
	cd service && go test -run '^$$' -bench 'IdentityFlood' -benchtime=1x ./cmd/hello/
	cd service && go test -run '^$$' -bench 'NotesFlood' -benchtime=1x ./cmd/notes/
	cd local && go test -run '^$$' -bench 'Gateway' -benchtime=21000x .
	local/image/docker.sh run bash -c "cd local && $(IMAGE_TEST_ENV) go test -run '^$$' -bench 'ImageStart' -benchtime=10x ./image/"

GATEWAY_PORT ?= 8080
BACKEND_PORT ?= 8081
AUTH_PORT ?= 9099
WEB_PORT ?= 8082

# The twin is built, then exec'd: make's child is the twin itself, so a kill
# of make reaches it, and it stops the backend and the emulator on INT, TERM
# and HUP, or when make dies or waits on a fatal signal (local/cmd/twin). On
# a terminal it takes the foreground, so Ctrl-C stops it and make exits 0.
.PHONY: local
local: emulator web ## @start Run the whole stack offline: backends, local gateway, Auth emulator, browser client (Ctrl-C stops; runs the backends of Pulumi.$(STACK).yaml: STACK=v2 for two)
	@cd local && go build -o ../.cache/bin/twin ./cmd/twin
	@GATEHOUSE_TWIN_FOREGROUND=1 exec .cache/bin/twin --gateway-port $(GATEWAY_PORT) --backend-port $(BACKEND_PORT) --auth-port $(AUTH_PORT) --web-port $(WEB_PORT) --stack-file Pulumi.$(STACK).yaml

# The browser client (client/web): the Firebase JS SDK and esbuild, pinned by its package-lock.json,
# installed into .cache/web; the page and its bundle go to .cache/web/dist (never committed).
WEB_DIR := .cache/web
WEB_DIST := $(WEB_DIR)/dist

.PHONY: web
web: $(WEB_DIST)/app.js ## @start Build the browser client (client/web, esbuild) into .cache/web/dist

$(WEB_DIR)/node_modules/.installed: client/web/package.json client/web/package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ with npm (the browser client builds with it)"; exit 1; }
	@echo "installing the browser client's packages (npm ci: firebase, esbuild) into $(WEB_DIR)"
	@mkdir -p $(WEB_DIR) && cp client/web/package.json client/web/package-lock.json $(WEB_DIR)/
	@npm ci --prefix $(WEB_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

$(WEB_DIST)/app.js: client/web/app.js client/web/style.css client/web/index.html $(WEB_DIR)/node_modules/.installed
	@mkdir -p $(WEB_DIST)
	@NODE_PATH=$(CURDIR)/$(WEB_DIR)/node_modules $(WEB_DIR)/node_modules/.bin/esbuild client/web/app.js \
	  --bundle --format=esm --target=es2022 --minify --sourcemap --log-level=warning --outfile=$@
	@cp client/web/index.html $(WEB_DIST)/index.html
	@echo "browser client built: $(WEB_DIST)"

.PHONY: chromium
chromium: ## @test Install Debian's Chromium for the browser test (one time)
	@local/browser/chromium.sh >/dev/null

# The browser client against a deployed stack: config.json from the stack's outputs, then served
# on loopback. Add the page's origin to the stack first:
#   pulumi config set --path 'gatehouse:corsOrigins[0]' http://localhost:$(WEB_DEPLOYED_PORT) && pulumi up
WEB_DEPLOYED_PORT ?= 8083
.PHONY: web-deployed
web-deployed: need-pulumi web ## @cloud Serve the browser client for STACK's deployment on 127.0.0.1:WEB_DEPLOYED_PORT (needs pulumi)
	@project=$$(pulumi stack output firebaseProjectId --stack $(STACK)); \
	printf '{"apiKey":"%s","projectId":"%s","authDomain":"%s.firebaseapp.com","gatewayUrl":"%s"}\n' \
	  "$$(pulumi stack output firebaseApiKey --stack $(STACK))" "$$project" "$$project" \
	  "$$(pulumi stack output gatewayUrl --stack $(STACK))" > $(WEB_DIST)/config.json
	@cd local && go run ./cmd/webserve -dir ../$(WEB_DIST) -port $(WEB_DEPLOYED_PORT)

# A new backend: its code on the kit (service/NAME), test, fragment, main, Dockerfile copy and
# exact ignore file, its line in the drift test, and its entry in Pulumi.NAME.yaml (made from
# Pulumi.v2.yaml when missing; STACK=... for another stack file). local/scaffold writes them.
NEW_STACK = $(if $(filter command line environment,$(origin STACK)),$(STACK),$(NAME))
.PHONY: new-backend
new-backend: ## @start Add a backend: NAME=greet PREFIX=/v3/ writes its code, fragment, image files and entry (in Pulumi.NAME.yaml, or STACK's)
	@[ -n "$(NAME)" ] && [ -n "$(PREFIX)" ] || { echo "usage: make new-backend NAME=greet PREFIX=/v3/ [STACK=greet]"; exit 2; }
	@cd local && go run ./cmd/newbackend -name '$(NAME)' -prefix '$(PREFIX)' -stack-file 'Pulumi.$(NEW_STACK).yaml'

.PHONY: fmt
fmt: ## @test gofmt every module
	gofmt -w $(MODULES)

# Deployed URLs for `make spec`, as NAME=URL (pulumi stack output backendUrls); placeholders for the rest.
BACKEND_URLS ?=

.PHONY: spec
spec: ## @plan Render and validate STACK's OpenAPI document and print its config id (BACKEND_URLS="v1=https://… notes=https://…")
	@go run ./stack/cmd/render --stack-file Pulumi.$(STACK).yaml $(foreach u,$(BACKEND_URLS),--backend-url $(u))

.PHONY: emulator
emulator: ## @start Install the Firebase Auth emulator (firebase-tools, pinned in local/emulator) with npm, once
	@cd local && go run ./cmd/emulator install

.PHONY: build
build: ## @start Build the gatehouse CLI and the backends (bin/hello, bin/notes, ...) into bin/
	cd client && go build -buildvcs=true -o ../bin/gatehouse ./cmd/gatehouse
	cd service && for c in cmd/*/; do CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o ../bin/ ./$$c; done

# Linters, pinned and installed from the Go module proxy into .cache/bin.
STATICCHECK_VERSION := v0.8.2
ACTIONLINT_VERSION := v1.7.12
TOOLS := $(CURDIR)/.cache/bin

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(TOOLS)/actionlint:
	GOBIN=$(TOOLS) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

.PHONY: lint
lint: $(TOOLS)/staticcheck $(TOOLS)/actionlint ## @test gofmt, go vet, staticcheck on every module; actionlint; Dockerfile lint
	@unformatted=$$(gofmt -l $(MODULES)); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@for m in $(MODULES); do echo "== vet + staticcheck $$m"; (cd $$m && go vet ./... && $(TOOLS)/staticcheck ./...); done
	$(TOOLS)/actionlint
	cd local && go test -count=1 -run 'TestDockerfileLint' ./image/

# Thin wrappers over the Pulumi CLI (run from the repository root).
STACK ?= dev
PULUMI := $(shell command -v pulumi 2>/dev/null)

# A real `pulumi preview` offline: throw-away local backend, dummy access token, outbound HTTP(S)
# sent to a closed loopback port, a Docker daemon from local/image/docker.sh (infra/plan/plan.sh).
.PHONY: plan
plan: ## @plan Preview STACK's stack file (Pulumi.$(STACK).yaml) with the real Pulumi engine and providers, offline, no cloud account (needs pulumi)
	@infra/plan/plan.sh -c Pulumi.$(STACK).yaml
	@echo "plan written to .cache/plan/plan.json and .cache/plan/plan.txt"

.PHONY: plan-bootstrap
plan-bootstrap: ## @plan Preview the CI bootstrap program (infra/bootstrap) offline from its example stack (needs pulumi)
	@infra/plan/plan.sh -o .cache/plan-bootstrap -p infra/bootstrap -c infra/bootstrap/Pulumi.example.yaml -n
	@echo "plan written to .cache/plan-bootstrap/plan.json and .cache/plan-bootstrap/plan.txt"

.PHONY: plan-test
plan-test: ## @test Test the real plans (stack and CI bootstrap): resources, providers, invariants, bad config, a planted violation
	@echo "== real Pulumi plan (infra/plan)"
	@GATEHOUSE_DOCKER_CACHE=$(CURDIR)/.cache/docker-plan local/image/docker.sh daemon bash -c "set -o pipefail; \
	  cd infra && GATEHOUSE_PLAN_TEST=1 go test -count=1 -timeout 90m -v ./plan/ | grep --line-buffered -v '^=== RUN'"

.PHONY: need-pulumi
need-pulumi:
	@[ -n "$(PULUMI)" ] || { echo "the Pulumi CLI is not installed: see https://www.pulumi.com/docs/install/ (e.g. curl -fsSL https://get.pulumi.com | sh)"; exit 1; }

.PHONY: preview
preview: need-pulumi ## @cloud pulumi preview for STACK (default dev)
	pulumi preview --stack $(STACK) --diff

.PHONY: up
up: need-pulumi ## @cloud pulumi up for STACK (default dev)
	pulumi up --stack $(STACK)

.PHONY: destroy
destroy: need-pulumi ## @cloud pulumi destroy for STACK (default dev)
	pulumi destroy --stack $(STACK)

.PHONY: outputs
outputs: need-pulumi ## @cloud Show STACK's outputs (gateway URL, ...)
	pulumi stack output --stack $(STACK)

# The local Google Cloud (local/cmd/cloud): the APIs the Pulumi programs call, on loopback, for the
# real `pulumi up`. It prints the environment to eval (every GOOGLE_*_CUSTOM_ENDPOINT, a token);
# the test-only gatehouse:imageRegistry sends image pushes to its registry.
CLOUD_PORT ?= 8090
CLOUD_PROJECT ?= my-gcp-project-id
CLOUD_STATE ?= .cache/cloud
CLOUD_ENV ?= .cache/cloud.env
.PHONY: cloud
cloud: ## @gcp Run the local Google Cloud on 127.0.0.1:CLOUD_PORT (Ctrl-C stops; eval "$$(cat .cache/cloud.env)", then pulumi up)
	@mkdir -p .cache && cd local && go build -o ../.cache/bin/cloud ./cmd/cloud
	@exec .cache/bin/cloud --port $(CLOUD_PORT) --project $(CLOUD_PROJECT) --state $(CLOUD_STATE) --env $(CLOUD_ENV)

# Scenarios a-g of issue #23 and the upgrade with the real engine and providers against the local Google
# Cloud: one cloud process, programs compiled once, one Docker daemon (local/image/docker.sh), four
# scenarios at a time (they wait on the engine and the provider far more than they compute). Each prints
# its time and where it went.
LIFECYCLE_TEST = cd infra && GATEHOUSE_LIFECYCLE_TEST=1 go test -count=1 -v -timeout 40m -parallel 4
.PHONY: cloud-test
# The upgrade (#26 item 2: the program of the layout before one list of backends deployed, today's
# `pulumi up` on the same state, then retiring /v1 from the upgraded stack) runs here whole.
cloud-test: ## @gcp Deploy scenarios (first deploy, code change, destroy/up, versions, CI path, adoption, fresh-project lag, upgrade in place, retiring /v1) against the local Google Cloud
	@echo "== lifecycle scenarios against the local Google Cloud (infra/lifecycle)"
	@local/image/docker.sh run bash -c "set -o pipefail; $(LIFECYCLE_TEST) -run 'TestScenario(ABC|D|E|F|G|Upgrade)$$' ./lifecycle/ | grep --line-buffered -v '^=== RUN'"

.PHONY: cloud-upgrade-test
cloud-upgrade-test: ## @gcp The upgrade scenario alone against the local Google Cloud: upgrade in place, then retiring /v1
	@local/image/docker.sh run bash -c "set -o pipefail; $(LIFECYCLE_TEST) -run 'TestScenarioUpgrade$$' ./lifecycle/ | grep --line-buffered -v '^=== RUN'"

# Scenarios e (the README's CI path: bootstrap as the owner, up as the deployer, preview as the
# previewer, every role and permission needed) and f (the README's adoption steps) alone; cloud-test
# runs them too.
.PHONY: cloud-ci-test
cloud-ci-test: ## @gcp CI-path and adoption scenarios (e, f) alone against the local Google Cloud
	@local/image/docker.sh run bash -c "set -o pipefail; $(LIFECYCLE_TEST) -run 'TestScenario(E|F)$$' ./lifecycle/ | grep --line-buffered -v '^=== RUN'"

.PHONY: cloud-bench
cloud-bench: ## @gcp Benchmark a warm pulumi up of the dev stack against the local Google Cloud
	@local/image/docker.sh run bash -c "cd infra && GATEHOUSE_LIFECYCLE_TEST=1 go test -count=1 -run '^$$' -bench WarmUp -benchtime 2x -timeout 30m ./lifecycle/"
