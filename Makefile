# A thin wrapper over CMake for the README's two commands. Each installs the Debian packages that
# are missing (as root with apt-get; otherwise it prints the exact command), configures, builds
# and runs. Everything real lives in CMakeLists.txt.

BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# libdeflate-dev and libpcre2-dev are optional (gzip output falls back to zlib, the grep and
# replace plugins to glibc regex); tabix gives the tests
# bgzip, one of the readers gzip output is checked with; parallel (GNU parallel) is what the exec
# steps' tests compare with (they skip that comparison without it).
PACKAGES = cmake make gcc pkg-config libyaml-dev zlib1g-dev libcmocka-dev libdeflate-dev libpcre2-dev tabix pigz parallel

# .ci/slurm-test.sh (make test-slurm) needs Slurm's daemons and client and munge: it starts a
# private single-node cluster of its own (nothing in /etc is used), so they are not needed to
# build or to use tranche submit against a real cluster.
SLURM_PACKAGES = slurmctld slurmd slurm-client munge

# The fuzz targets need clang and its libFuzzer runtime.
FUZZ_PACKAGES = clang libclang-rt-14-dev
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps build demo test test-sanitize test-slurm fuzz bench clean install

all: build

deps:
	@missing=""; for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing:$$missing"; \
	        DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing || exit 1; \
	    else \
	        echo "missing packages:$$missing"; \
	        echo "run: sudo apt-get install -y$$missing"; exit 1; \
	    fi; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Runs every job in configs/ on the bundled sample data and shows the start of each output.
demo: build
	@set -e; for job in configs/*.yaml; do \
	    echo "== $(BUILD)/bin/tranche run $$job"; \
	    $(BUILD)/bin/tranche run $$job; \
	done; \
	for out in out/*; do [ -f "$$out" ] || continue; \
	    case "$$out" in *.gz) echo "== $$out ($$(zcat $$out | wc -l) records, gzip)"; \
	        zcat "$$out" | head -n 3;; \
	    *) echo "== $$out ($$(wc -l < $$out) records)"; head -n 3 "$$out";; esac; done
	@echo "== the same jobs with the reference tools (LC_ALL=C), compared byte for byte:"
	@set -e; export LC_ALL=C; \
	grep -F ' 404 ' sample-data/access.log | tr a-z A-Z | cmp - out/access-404-upper.log; \
	echo "out/access-404-upper.log = grep -F ' 404 ' | tr a-z A-Z"; \
	grep -E '" (5[0-9][0-9]) ' sample-data/access.log | cut -d ' ' -f 1,4,9 | cmp - out/access-errors.log; \
	echo "out/access-errors.log    = grep -E '\" (5[0-9][0-9]) ' | cut -d ' ' -f 1,4,9"; \
	cut -d , -f 1,3-5 sample-data/orders.csv | cmp - out/orders-cut.csv; \
	echo "out/orders-cut.csv       = cut -d , -f 1,3-5"; \
	grep -F ' 404 ' sample-data/access.log | awk '{print $$1, $$7}' | cmp - out/access-exec.log; \
	echo "out/access-exec.log      = grep -F ' 404 ' | awk '{print \$$1, \$$7}' (an exec step)"; \
	gzip -t out/access-5xx.log.gz; \
	zcat out/access-5xx.log.gz > out/.5xx; grep -E '" 5[0-9][0-9] ' sample-data/access.log | cmp - out/.5xx; \
	rm -f out/.5xx; \
	zcat sample-data/access-single.log.gz | cmp - sample-data/access.log; \
	cmp out/access-errors-single.log out/access-errors.log; \
	echo "out/access-errors-single.log = the same, from plain gzip (zcat | grep -E | cut)"; \
	zcat out/access-404.log.gz | cmp - out/access-404-upper.log; \
	echo "out/access-404.log.gz    = zcat access.log.gz | grep -F ' 404 ' | tr a-z A-Z | gzip"; \
	echo "out/access-5xx.log.gz    = grep -E '\" 5[0-9][0-9] ' | gzip (checked with zcat)"; \
	awk '{ c[$$9]++; s[$$9] += $$10; if ($$10 != "-" && ($$10 + 0 > m[$$9] + 0 || !($$9 in m))) m[$$9] = $$10 } \
	    END { for (k in c) print k "\t" c[k] "\t" s[k] "\t" m[k] }' sample-data/access.log | sort | \
	    cmp - out/access-count.tsv; \
	echo "out/access-count.tsv     = awk '{ c[\$$9]++; s[\$$9] += \$$10; m[\$$9] = max } ...' | sort"; \
	zcat sample-data/reads.fastq.gz | python3 plugins/fastq-filter/fastq_ref.py filter:30:50 trim:100 | \
	    cmp - out/reads-filter.fastq; \
	echo "out/reads-filter.fastq   = zcat reads.fastq.gz | python3 fastq_ref.py filter:30:50 trim:100"; \
	python3 -c 'import csv, sys; r = csv.reader(sys.stdin); h = next(r); i = h.index("name"), h.index("city"); \
	    w = csv.writer(sys.stdout, lineterminator="\n"); [w.writerow([x[k] for k in i]) for x in [h, *r]]' \
	    < sample-data/contacts.csv | cmp - out/contacts-cut.csv; \
	echo "out/contacts-cut.csv     = python3 csv.reader, columns name and city, csv.writer"

# Configures again, so that a build directory configured before CMocka was installed gets its
# tests; --no-tests=error fails rather than passing with no tests.
test: deps
	cmake -S . -B $(BUILD) -DBUILD_TESTING=ON
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure --no-tests=error -j $(JOBS)

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer (CI runs it too), built
# with zlib rather than libdeflate so that CI covers both codecs.
test-sanitize: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTRANCHE_SANITIZE=ON -DTRANCHE_WERROR=ON \
	    -DTRANCHE_LIBDEFLATE=OFF -DBUILD_TESTING=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure --no-tests=error \
	    -j $(JOBS)

# tranche submit --slurm end to end on a private single-node Slurm cluster on loopback, started
# and stopped by the script (well under a minute; CI runs it).
test-slurm:
	@$(MAKE) --no-print-directory deps PACKAGES="$(PACKAGES) $(SLURM_PACKAGES)"
	@$(MAKE) --no-print-directory build
	.ci/slurm-test.sh $(BUILD)

# libFuzzer with ASan and UBSan over the job-file loader, the gzip readers and the access-point
# index, FUZZ_SECONDS each (CI runs it). Seeds and every input that once crashed are kept in
# tests/fuzz/corpus/NAME; what the fuzzer finds new goes to $(FUZZ_BUILD)/corpus/NAME.
fuzz:
	@$(MAKE) --no-print-directory deps PACKAGES="$(PACKAGES) $(FUZZ_PACKAGES)"
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTRANCHE_FUZZ=ON \
	    -DBUILD_TESTING=OFF -DTRANCHE_LIBDEFLATE=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@set -e; for t in config gzip gzindex; do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t; rm -f $(FUZZ_BUILD)/$$t-*; \
	    echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -artifact_prefix=$(FUZZ_BUILD)/$$t- $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t \
	        2>&1 | grep -E '^#[0-9]+[[:space:]]+DONE|ERROR|SUMMARY|Test unit' || true; \
	    if ls $(FUZZ_BUILD)/$$t-* >/dev/null 2>&1; then \
	        echo "fuzz_$$t found a failing input: $$(ls $(FUZZ_BUILD)/$$t-*)"; exit 1; fi; \
	done

# Installs the CLI, the bundled plugins and the plugin SDK (header, tranche-plugin.pc, the CMake
# package, man pages) under PREFIX (DESTDIR is honoured, for packaging).
PREFIX ?= /usr/local
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

bench: build
	bench/run.sh --build $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) out
