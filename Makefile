# tillbox: the front door. `make run` and `make test` are the two commands a newcomer needs.

VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
GO        ?= go
BIN       := bin
DATA      ?= $(CURDIR)/.run
ARM_TEST_PKGS := ./ledger/... ./drivers/evdev/... ./drivers/scanner/... ./drivers/keypad/... ./uplink/wire/...
# The kill -9 loops run on the host and on arm64; on armv7 the ledger's other tests, in a minute.
ARMV7_TEST_RUN := Append|Verify|Checkpoint|Rolled|Head|Retain|Compact|SizeLimit|Prune|Corrupt|Lookups|Confirm|Disk|Sides|Identity|Export|Closed|Never

export PATH := $(PATH):/usr/local/go/bin

.PHONY: all run test test-host test-arm test-armv7 test-fuzz build build-arm bench bench-fleet fmt vet soak deps clean image vmtest test-vm test-image

all: build

deps:
	@bash scripts/deps.sh

## run: the till on the sim board with the embedded defaults, for a person at a terminal.
run: build
	$(BIN)/tillbox run --data $(DATA)

## test: install what is missing, then vet and every test, host and linux/arm64 under qemu-user,
## the ledger on linux/arm (armv7) under qemu-user, a short run of each fuzz target, and the
## rpi4 image checked.
test: deps vet test-host test-arm test-armv7 test-fuzz test-image test-vm

test-host:
	$(GO) test -count=1 -timeout 12m ./...

test-arm:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 TILLBOX_TEST_EXEC=qemu-aarch64-static \
		$(GO) test -count=1 -timeout 10m -exec qemu-aarch64-static $(ARM_TEST_PKGS)

## test-armv7: the ledger on a 32-bit board (its 2 GiB size limit is shown, not reported as
## damage), under qemu-arm-static.
test-armv7:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 TILLBOX_TEST_EXEC=qemu-arm-static \
		$(GO) test -count=1 -timeout 5m -exec qemu-arm-static -run '$(ARMV7_TEST_RUN)' ./ledger/...

## test-fuzz: each fuzz target for a budget of executions (FUZZTIME=10m for longer runs).
test-fuzz:
	FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/tillbox ./firmware
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/tillhq ./uplink/hq/cmd/tillhq

build-arm:
	@mkdir -p $(BIN)/linux-arm64 $(BIN)/linux-armv7
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-arm64/tillbox ./firmware
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/linux-armv7/tillbox ./firmware

## image: the flashable arm64 image, its signature, SHA256SUMS and the update bundle in dist/
## (BOARD=qemu-virt or rpi4; VERSION=0.1.N from the commit count unless given;
## SIGNING_KEY=... for a release key).
BOARD ?= qemu-virt
image:
	BOARD=$(BOARD) bash scripts/image.sh

## vmtest: the image booted under qemu-system-aarch64 with host-side fakes and HQ: first boot
## and a sale, updates confirmed, rolled back (health, watchdog) and refused, power cuts mid-sale
## and at each moment of an update (slot write, switch, try, confirmation; torn boot blocks);
## and a rollout from head office fetched over the network, tried and confirmed.
vmtest:
	MODE=full bash scripts/vmtest.sh

## test-image: the rpi4 disk built from the fetched Debian packages and checked against its
## spec (partition table, boot files, tryboot configuration, device trees, initrd), then its
## kernel and initrd booted under qemu to the init's module loading (about a minute).
test-image:
	bash scripts/image-fetch.sh .cache/image
	TILLBOX_IMAGE_TEST=1 $(GO) test -count=1 -v -run 'Image' -timeout 10m ./image/build/

## test-vm: the short VM test in make test (first boot, a sale to HQ, an update confirmed);
## skipped when qemu-system-aarch64 is not installed.
test-vm:
	MODE=short bash scripts/vmtest.sh

## bench: benchmarks that print their figures beside a baseline measured in the same run.
bench:
	$(GO) test -count=1 -run '^$$' -bench AppendVsBareBolt -benchtime 2000x ./ledger/
	bash scripts/bench-ledger.sh
	$(GO) test -count=1 -run '^$$' -bench ReceiptOverPty -benchtime 20x ./drivers/printer/
	$(GO) test -count=1 -run '^$$' -bench DecodeTx ./uplink/wire/
	$(GO) test -count=1 -run '^$$' -bench IngestPostgres -benchtime 100x ./uplink/hq/
	$(GO) test -count=1 -run '^$$' -bench QuarantineFlood -benchtime 20x ./uplink/hq/
	$(GO) test -count=1 -run '^$$' -bench RolloutTick -benchtime 20x ./uplink/hq/
	bash scripts/bench-drain.sh

## bench-fleet: a reconnect storm of 100 and 1,000 simulated tills (FLEET5000=1: and 5,000) with
## 200 entries each, through Mosquitto with the shipped limits into one, then two tillhq on PostgreSQL.
bench-fleet:
	bash scripts/bench-fleet.sh

## soak: the long fault loops (thousands of cycles), and 100 power cuts of the box under qemu
## at random moments of sales and updates (TestVMSoak, an hour or more).
soak:
	TILLBOX_SOAK=1 $(GO) test -count=1 -timeout 6h -run 'Crash|Soak|Kill' -v ./ledger/... ./firmware/...
	TILLBOX_SOAK=1 $(GO) test -count=1 -timeout 6h -v ./uplink/...
	MODE=soak bash scripts/vmtest.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

clean:
	rm -rf $(BIN) $(DATA)
