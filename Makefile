# microbatch: the two commands are `make demo` and `make test`.
GO       ?= go
BIN      := bin/microbatch
FUZZTIME ?= 5s

.PHONY: build test unit race vet lint fuzz fuzz-short demo bench clean

build:
	$(GO) build -o $(BIN) ./cmd/microbatch

# The whole suite, as CI runs it: vet, race-enabled tests, brief fuzzing.
test: vet race fuzz-short

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

race:
	$(GO) test -race -count=1 -timeout 20m ./...

unit:
	$(GO) test -short -count=1 ./...

lint: vet

# Every fuzz target for FUZZTIME each (make fuzz FUZZTIME=5m for a real run).
fuzz-short fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh

# The clickstream example against an in-process broker fed by the built-in
# generator; Ctrl-C stops it gracefully, running it again resumes.
demo: build
	./$(BIN) run examples/clickstream/job.yaml

bench:
	$(GO) run ./bench

clean:
	rm -rf bin
