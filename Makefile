# One target per job a person does. `make help` lists them.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS  := -X main.version=$(VERSION)
BIN      := bin/lvsd

.PHONY: help build test unit lint deps clean bench-failover

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

build: ## build bin/lvsd
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lvsd

deps: ## install the Debian packages the tests use (needs root; no-op if present)
	@test/deps.sh

test: deps ## everything: unit, root-only namespace tests, and the kernel lab
	$(GO) test -count=1 ./...

unit: ## the quick tests only (no root, no lab)
	$(GO) test -short -count=1 ./...

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0 ./...

clean: ## remove build output (the lab cache stays)
	rm -rf bin

bench-failover: deps ## VRRP failover, lvsd vs keepalived in namespaces (root; a few minutes)
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkFailover$$' -benchtime 1x -timeout 30m ./vrrp
