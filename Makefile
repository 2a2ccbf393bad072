# One target per job a person does. `make help` lists them.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS  := -X main.version=$(VERSION)
BIN      := bin/lvsd
LAB      := $(GO) run ./test/lab/cmd/kernellab
# The lab boots Debian 12's default kernel (6.1); the ipvs tests run a second
# time on its 6.12 series, which has schedulers 6.1 lacks (twos) and is what
# Debian 13 directors run.
LAB_KERNEL2 ?= linux-image-6.12-amd64

.PHONY: help build test unit lint deps clean test-kernel lab-shell bench-ipvs bench-checks bench-failover install docs lab bench-checks-keepalived

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

build: ## build bin/lvsd
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lvsd

deps: ## install the Debian packages the tests use (needs root; no-op if present)
	@test/deps.sh

# make lab: the whole architecture in one command (docs/lab.md).
MODE     ?= nat
LAB_ARGS ?=
lab: build deps ## two lvsd directors, three web servers and a client in the kernel lab: failures while you watch (MODE=nat|dr|tun)
	$(LAB) run -cpus 2 -timeout 10m -file $(BIN):lvsd -- ./test/scenario/cmd/lvsdlab -mode $(MODE) $(LAB_ARGS)

test: deps ## everything: unit, root-only namespace tests, and the kernel lab
	@rc=0; \
	echo "$(GO) test -count=1 ./..."; $(GO) test -count=1 ./... || rc=1; \
	echo "$(LAB) test"; $(LAB) test || rc=1; \
	echo "$(LAB) test ./ipvs on $(LAB_KERNEL2)"; LVSD_LAB_KERNEL_META=$(LAB_KERNEL2) $(LAB) test -q ./ipvs || rc=1; \
	exit $$rc

test-kernel: deps ## only the TestKernel* tests, in the kernel lab (RUN=regexp PKGS=./ipvs narrow it)
	$(LAB) test $(if $(RUN),-run '$(RUN)') $(PKGS)

lab-shell: deps ## a shell in the kernel lab VM (IPVS, ipvsadm, keepalived, iproute2)
	$(LAB) shell

bench-ipvs: deps ## lvsd's IPVS backend vs ipvsadm, 10,000 services x 5 real servers, in the kernel lab (BENCH_ARGS=-services=N ...)
	$(LAB) run -timeout 40m -- ./test/bench/ipvs $(BENCH_ARGS)

unit: ## the quick tests only (no root, no lab)
	$(GO) test -short -count=1 ./...

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0 ./...

BENCH_CHECKS_FLAGS ?= -kind tcp,http -n 10000 -interval 1s -duration 60s
bench-checks: ## checkers: 10,000 TCP then HTTP servers checked every second for 60 s (CPU, RSS, delays)
	$(GO) build -o bin/benchchecks ./checkers/internal/benchchecks
	bin/benchchecks $(BENCH_CHECKS_FLAGS)

clean: ## remove build output (the lab cache stays)
	rm -rf bin

bench-failover: deps ## VRRP failover, lvsd vs keepalived in namespaces (root; a few minutes)
	$(GO) test -count=1 -run '^$$' -bench '^BenchmarkFailover$$' -benchtime 1x -timeout 30m ./vrrp

# Installation paths (make install PREFIX=/usr DESTDIR=pkgroot for a package).
PREFIX     ?= /usr/local
DESTDIR    ?=
SBINDIR    ?= $(PREFIX)/sbin
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SHAREDIR   ?= $(PREFIX)/share
SYSCONFDIR ?= /etc

install: build ## install lvsd, its systemd unit, shell completions, and /etc/lvsd/lvsd.hcl if absent (PREFIX, DESTDIR)
	install -D -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/lvsd
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/sbin/lvsd|$(SBINDIR)/lvsd|g' dist/lvsd.service > $(DESTDIR)$(UNITDIR)/lvsd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/lvsd.service
	install -d $(DESTDIR)$(SHAREDIR)/bash-completion/completions $(DESTDIR)$(SHAREDIR)/zsh/site-functions $(DESTDIR)$(SHAREDIR)/fish/vendor_completions.d
	$(BIN) completion bash > $(DESTDIR)$(SHAREDIR)/bash-completion/completions/lvsd
	$(BIN) completion zsh > $(DESTDIR)$(SHAREDIR)/zsh/site-functions/_lvsd
	$(BIN) completion fish > $(DESTDIR)$(SHAREDIR)/fish/vendor_completions.d/lvsd.fish
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/lvsd
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/lvsd/lvsd.hcl ]; then \
		echo "$(DESTDIR)$(SYSCONFDIR)/lvsd/lvsd.hcl exists: left as it is"; \
	else \
		echo "install -m 0644 dist/lvsd.hcl $(DESTDIR)$(SYSCONFDIR)/lvsd/lvsd.hcl"; \
		install -m 0644 dist/lvsd.hcl $(DESTDIR)$(SYSCONFDIR)/lvsd/lvsd.hcl; \
	fi
	@echo "installed; next: systemctl daemon-reload && systemctl enable --now lvsd (see docs/operations.md)"

docs: ## regenerate docs/cli.md from the command tree (a test fails when it is stale)
	$(GO) run ./cmd/lvsd gen-docs -o docs/cli.md

bench-checks-keepalived: build deps ## keepalived's checker vs lvsd, 1,000 TCP checks/s each at once, CPU per check, in the kernel lab
	CGO_ENABLED=0 $(GO) build -o bin/benchchecks ./checkers/internal/benchchecks
	$(LAB) run -cpus 2 -timeout 20m -file bin/benchchecks:benchchecks -file $(BIN):lvsd -- ./test/bench/checkcpu $(BENCH_ARGS)
