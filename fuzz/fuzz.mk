# Builds the libFuzzer targets with clang and AddressSanitizer + UBSan. A
# plain GNU make file, so that it needs neither configure nor the libtool
# objects (which gcc builds without sanitizers):
#
#   make -f fuzz/fuzz.mk [SRCDIR=.] [BUILD=fuzz/build] [CLANG=clang-14]
#   make -f fuzz/fuzz.mk seeds      rewrites the generated seeds in fuzz/corpus
#
# The module's pure sources are those of libentra_core_la_SOURCES in
# Makefile.am, compiled here once more with -fsanitize=fuzzer-no-link.
# fuzz_chunks also links src/store.c (with stubs for what it calls in httpd);
# fuzz_metadata, fuzz_jwks and fuzz_token_answer link fuzz/http_stub.c in
# place of src/http.c; fuzz_callback links src/login.c and src/attempts.c
# with it (and stubs for httpd).
# scripts/fuzz.sh builds with this file and runs the targets.

SRCDIR ?= $(patsubst %/fuzz/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
BUILD ?= $(SRCDIR)/fuzz/build
CLANG ?= clang-14
APXS ?= $(shell command -v apxs || command -v apxs2 || echo /usr/bin/apxs)
PKG_CONFIG ?= pkg-config
# The pkg-config modules configure.ac asks for (its ENTRA_NEED lines).
PKGS := $(shell grep '^ENTRA_NEED.\[' $(SRCDIR)/configure.ac | cut -d[ -f3 | cut -d] -f1)
ifeq ($(strip $(PKGS)),)
PKGS = apr-1 apr-util-1 libcurl jansson cjose libcrypto zlib
endif

APXS_INCLUDEDIR := $(shell $(APXS) -q INCLUDEDIR 2>/dev/null || echo /usr/include/apache2)
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS))

# The core list, read from Makefile.am so the two never drift apart.
CORE_SRC := $(shell sed -n '/^libentra_core_la_SOURCES/,/^$$/p' $(SRCDIR)/Makefile.am \
                    | grep -o 'src/[a-z_]*\.c')
ifeq ($(strip $(CORE_SRC)),)
$(error no libentra_core_la_SOURCES found in $(SRCDIR)/Makefile.am)
endif

TARGETS := $(sort $(patsubst $(SRCDIR)/fuzz/%.c,%,$(wildcard $(SRCDIR)/fuzz/fuzz_*.c)))
TARGETS := $(filter-out fuzz_common,$(TARGETS))

SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
CFLAGS_FUZZ = -g -O1 -fno-omit-frame-pointer $(SAN) -fsanitize=fuzzer-no-link \
              -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
              -I$(SRCDIR)/src -I$(APXS_INCLUDEDIR) $(PKG_CFLAGS)
HEADERS := $(wildcard $(SRCDIR)/src/*.h $(SRCDIR)/fuzz/*.h)

CORE_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CORE_SRC))
COMMON_OBJ := $(BUILD)/obj/fuzz_common.o
STORE_OBJ := $(BUILD)/obj/store.o

all: $(addprefix $(BUILD)/,$(TARGETS))

list:
	@echo $(TARGETS)

$(BUILD)/obj/%.o: $(SRCDIR)/src/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(CLANG) $(CFLAGS_FUZZ) -c -o $@ $<

$(BUILD)/obj/fuzz_%.o: $(SRCDIR)/fuzz/fuzz_%.c $(HEADERS)
	@mkdir -p $(@D)
	$(CLANG) $(CFLAGS_FUZZ) -c -o $@ $<

$(BUILD)/obj/mkseeds.o: $(SRCDIR)/fuzz/mkseeds.c $(HEADERS)
	@mkdir -p $(@D)
	$(CLANG) $(CFLAGS_FUZZ) -c -o $@ $<

$(BUILD)/fuzz_chunks: $(BUILD)/obj/fuzz_chunks.o $(STORE_OBJ) $(COMMON_OBJ) $(CORE_OBJ)
	$(CLANG) $(SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

# Targets that drive the module's fetching and token code: src/http.c is
# replaced by fuzz/http_stub.c, which answers with the fuzzer's bytes.
HTTP_STUB_TARGETS := fuzz_metadata fuzz_jwks fuzz_token_answer
STUB_OBJ := $(BUILD)/obj/http_stub.o
STUBBED_CORE_OBJ := $(filter-out $(BUILD)/obj/http.o,$(CORE_OBJ)) $(STUB_OBJ)

$(STUB_OBJ): $(SRCDIR)/fuzz/http_stub.c $(HEADERS)
	@mkdir -p $(@D)
	$(CLANG) $(CFLAGS_FUZZ) -c -o $@ $<

$(addprefix $(BUILD)/,$(HTTP_STUB_TARGETS)): $(BUILD)/%: $(BUILD)/obj/%.o $(COMMON_OBJ) $(STUBBED_CORE_OBJ)
	$(CLANG) $(SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

# fuzz_callback runs src/login.c's entra_callback with src/attempts.c (the
# state cookies), the stubbed core, and stubs for httpd and src/respond.c.
$(BUILD)/fuzz_callback: $(BUILD)/obj/fuzz_callback.o $(BUILD)/obj/login.o $(BUILD)/obj/attempts.o \
                        $(BUILD)/obj/stepup.o \
                        $(COMMON_OBJ) $(STUBBED_CORE_OBJ)
	$(CLANG) $(SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

$(BUILD)/fuzz_%: $(BUILD)/obj/fuzz_%.o $(COMMON_OBJ) $(CORE_OBJ)
	$(CLANG) $(SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

# The seed generator: same objects, its own main.
$(BUILD)/mkseeds: $(BUILD)/obj/mkseeds.o $(COMMON_OBJ) $(CORE_OBJ)
	$(CLANG) $(SAN) -fsanitize=fuzzer-no-link -o $@ $^ $(PKG_LIBS)

seeds: $(BUILD)/mkseeds
	$(BUILD)/mkseeds $(SRCDIR)/fuzz/corpus

clean:
	rm -rf $(BUILD)

.PHONY: all list seeds clean
.SECONDARY:
