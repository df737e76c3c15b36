# Developer tasks. `make help` lists them.
GO ?= go
FUZZTIME ?= 30s

.PHONY: help build test race lint fuzz bench proto ci

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/coderclaw
	$(GO) build -o bin/coderclaw ./cmd/coderclaw

test: ## run every test (the README's test command)
	$(GO) test ./...

race: ## race-detector run of the concurrent packages
	$(GO) test -race ./internal/engine/... ./internal/store/... ./transport/... ./internal/access/... ./internal/security/...

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

fuzz: ## run each fuzzer for FUZZTIME
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./internal/config
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeSubmit$$' -fuzztime $(FUZZTIME) ./transport/http
	$(GO) test -run '^$$' -fuzz '^FuzzSSEParser$$' -fuzztime $(FUZZTIME) ./transport/http
	$(GO) test -run '^$$' -fuzz '^FuzzParseFilter$$' -fuzztime $(FUZZTIME) ./transport/http
	$(GO) test -run '^$$' -fuzz '^FuzzSubmitRequest$$' -fuzztime $(FUZZTIME) ./transport/grpc
	$(GO) test -run '^$$' -fuzz '^FuzzNodePolicy$$' -fuzztime $(FUZZTIME) ./internal/security
	$(GO) test -run '^$$' -fuzz '^FuzzRepoPolicy$$' -fuzztime $(FUZZTIME) ./internal/security
	$(GO) test -run '^$$' -fuzz '^FuzzTeamPolicy$$' -fuzztime $(FUZZTIME) ./internal/security

bench: build ## print the engine figures (20,000 noop tasks)
	./bin/coderclaw bench engine --tasks 20000
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/store/sqlite

proto: ## regenerate gen/ from proto/ (needs Debian protoc 3.21.12)
	bash proto/generate.sh

ci: ## what CI runs
	bash .ci/run
