# openqq: `make run` runs everything in one process; `make test` runs every test.
SHELL   := /bin/bash
MODULES := pkg/events pkg/client pkg/infra services/session services/gateway services/reporter services/poller cmd/openqq examples deploy bench
PKGS    := $(addsuffix /...,$(addprefix ./,$(MODULES)))
BINS    := bin/openqq bin/openqq-session bin/openqq-gateway bin/openqq-reporter bin/openqq-poller
GO      ?= go
# Fuzz targets run briefly in `make fuzz`; their seed corpora run in every `make test`.
FUZZTIME ?= 20s

.PHONY: all build run run-cluster test browser vet fmt staticcheck lint fuzz tidy clean tools bench wechaty-proto wechaty-puppet

all: build

build: $(BINS)

bin/openqq: FORCE
	$(GO) build -o $@ ./cmd/openqq
bin/openqq-session: FORCE
	$(GO) build -o $@ ./services/session/cmd/openqq-session
bin/openqq-reporter: FORCE
	$(GO) build -o $@ ./services/reporter/cmd/openqq-reporter
bin/openqq-poller: FORCE
	$(GO) build -o $@ ./services/poller/cmd/openqq-poller
bin/openqq-gateway: FORCE
	$(GO) build -o $@ ./services/gateway/cmd/openqq-gateway
FORCE:

## run-cluster: the docker-compose topology as separate processes around a 3-node cluster of real nats-server processes
run-cluster: build bin/nats-server
	./scripts/run-cluster.sh

# nats-server built from the Go module the project already requires (nothing is downloaded
# but modules).
bin/nats-server:
	cd pkg/infra && $(GO) build -o ../../bin/nats-server github.com/nats-io/nats-server/v2

## run: the whole system in one process (embedded NATS on :4222, a QQ and a WeChat simulated account, the API on :5000)
run: bin/openqq
	./bin/openqq

## test: every module's tests, with the race detector, plus vet, staticcheck and formatting.
## A suite that skipped itself (the console's browser test without Chromium) is named in a
## banner at the end: a skipped suite looks green.
SKIPPED := $(CURDIR)/bin/.skipped-tests
test: browser wechaty-puppet vet staticcheck
	@unformatted=$$(gofmt -l $(MODULES)); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	@mkdir -p bin && rm -f $(SKIPPED)
	@status=0; OPENQQ_SKIPPED=$(SKIPPED) $(GO) test -race -count=1 -timeout 20m $(PKGS) || status=$$?; \
	if [ -s $(SKIPPED) ]; then \
		echo; echo "!!!!!!!!!! $$(wc -l < $(SKIPPED)) TEST(S) SKIPPED, NOT PASSED: $$(tr '\n' ';' < $(SKIPPED)) see make browser !!!!!!!!!!"; \
	fi; exit $$status

vet:
	$(GO) vet $(PKGS)

## browser: Debian's Chromium (and a CJK font for its screenshots) for the console's browser
## test, which is skipped without it, except in CI
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing chromium (the console's browser test needs it)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; \
		else \
			echo "chromium is not installed: sudo apt-get install chromium (or the browser test is skipped)"; \
		fi; }

## wechaty-puppet: Wechaty's puppet service (npm: wechaty-puppet-service over wechaty-puppet-mock,
## pinned by the lockfile) for the wechaty driver's real-service test, which is skipped without
## node (Node 20)
WECHATY_PUPPET := services/session/wxdriver/wechaty/testdata/puppet
wechaty-puppet:
	@if command -v node >/dev/null 2>&1; then \
		[ -d $(WECHATY_PUPPET)/node_modules/wechaty-puppet-service ] || (cd $(WECHATY_PUPPET) && npm ci --no-audit --no-fund --loglevel=error); \
	else echo "node is not installed: the wechaty driver's real puppet-service test is skipped (install Node 20)"; fi

fmt:
	gofmt -w $(MODULES)

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

lint: vet staticcheck

## fuzz: run each fuzz target for FUZZTIME
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzDecodeParams -fuzztime=$(FUZZTIME) ./pkg/events/
	$(GO) test -run='^$$' -fuzz=FuzzFind -fuzztime=$(FUZZTIME) ./services/session/roster/
	$(GO) test -run='^$$' -fuzz=FuzzReadParams -fuzztime=$(FUZZTIME) ./services/gateway/
	$(GO) test -run='^$$' -fuzz=FuzzParseFilter -fuzztime=$(FUZZTIME) ./services/gateway/
	$(GO) test -run='^$$' -fuzz=FuzzResolve -fuzztime=$(FUZZTIME) ./pkg/infra/media/
	$(GO) test -run='^$$' -fuzz=FuzzCommand -fuzztime=$(FUZZTIME) ./services/poller/
	$(GO) test -run='^$$' -fuzz=FuzzWXCommand -fuzztime=$(FUZZTIME) ./services/poller/
	$(GO) test -run='^$$' -fuzz=FuzzWXActions -fuzztime=$(FUZZTIME) ./services/reporter/
	$(GO) test -run='^$$' -fuzz=FuzzParseAnswer -fuzztime=$(FUZZTIME) ./services/reporter/
	$(GO) test -run='^$$' -fuzz=FuzzWxParams -fuzztime=$(FUZZTIME) ./services/session/wx/
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./services/session/driver/face/
	$(GO) test -run='^$$' -fuzz=FuzzDecodeEvent -fuzztime=$(FUZZTIME) ./services/session/wxdriver/wechaty/
	$(GO) test -run='^$$' -fuzz=FuzzOpenBox -fuzztime=$(FUZZTIME) ./services/session/wxdriver/wechaty/
	$(GO) test -run='^$$' -fuzz=FuzzDecodeUpdates -fuzztime=$(FUZZTIME) ./services/session/wxdriver/ilink/
	$(GO) test -run='^$$' -fuzz=FuzzCheckResult -fuzztime=$(FUZZTIME) ./services/session/wxdriver/ilink/
	$(GO) test -run='^$$' -fuzz=FuzzAES -fuzztime=$(FUZZTIME) ./services/session/wxdriver/ilink/

## wechaty-proto: regenerate the Wechaty puppet-service gRPC client (services/session/wxdriver/
## wechaty/puppetpb) from its committed proto/; the build and the tests do not need it
WECHATY_PB := services/session/wxdriver/wechaty/puppetpb
wechaty-proto:
	@command -v protoc >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null; \
		else echo "protoc is missing: sudo apt-get install protobuf-compiler"; exit 1; fi; }
	GOBIN=$(CURDIR)/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
	GOBIN=$(CURDIR)/bin $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0
	PATH=$(CURDIR)/bin:$$PATH $(GO) generate ./$(WECHATY_PB)

tidy:
	for m in $(MODULES); do (cd $$m && $(GO) mod tidy) || exit 1; done
	$(GO) work sync

clean:
	rm -rf bin

## bench: each row of the benchmark table against its baseline, side by side (a few minutes;
## BENCH_QUICK=1 for about one); writes bench/out/results.md and bench/out/results.json
bench:
	$(GO) run ./bench/cmd/openqq-bench -out bench/out

## tools: the nats CLI in ./bin (nats sub, nats req, nats micro)
tools: bin/nats
bin/nats:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/nats-io/natscli/nats@v0.5.0
