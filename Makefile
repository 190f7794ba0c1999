# ekn: one library (libekn.a), many commands (bin/ekn-*).  GNU make, Linux.
#
#   make                 build libekn.a and bin/ekn-*
#   make check           build, then run unit tests, bats tests and man-page lint
#   make check-asan      the same suite built with -fsanitize=address,undefined
#   make demo            the main job: Fashion-MNIST CNN, end to end
#   make bench           benchmarks (never part of the tests)
#   make fuzz            the libFuzzer harnesses of tests/fuzz (FUZZ_TIME=30 s each; needs clang)
#   make gpu-check       on a GPU machine: the CUDA equivalence tests and benchmark
#   make deps            install the Debian packages the project needs (as root)
#   make install PREFIX=/usr/local
#   CUDA=0               force a CPU-only build (default: auto-detect nvcc + cuDNN)
#   MPI=0                build without MPI (default: auto-detect OpenMPI, for mpirun -n K ekn-train)

VERSION   := 0.1.0
PREFIX    ?= /usr/local
BUILD     ?= build/release
CC        ?= cc
OPTFLAGS  ?= -O3 -march=x86-64-v2 -g
SANFLAGS  ?=

# V=1 shows the full compiler command lines.
Q         := $(if $(V),,@)
PKGS      := hdf5 openblas libarchive
# lib/ is grouped into wings (lib/README says what each owns and may include);
# each wing is an include directory, so headers are named without their wing.
# kernels/ (and its CUDA runtime, kernels/cuda/) are the leaves below them.
WINGS     := core data nn plot
LIB_INCLUDES := $(WINGS:%=-Ilib/%) -Ikernels -Ikernels/cuda
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CPPFLAGS_EKN := $(LIB_INCLUDES) -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
                -DEKN_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
# snprintf truncation is how we bound messages, so that warning is off.
CFLAGS_EKN   := -std=c11 -Wall -Wextra -Werror -Wno-format-truncation -MMD -MP $(OPTFLAGS) $(SANFLAGS)
LDLIBS_EKN   := $(PKG_LIBS) -lm -lpthread

# ---- optional CUDA ------------------------------------------------------
CUDA_HOME ?= /usr/local/cuda
NVCC      ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard $(CUDA_HOME)/bin/nvcc))
ifeq ($(CUDA),0)
  HAVE_CUDA :=
else ifneq ($(NVCC),)
  ifneq ($(wildcard $(CUDA_HOME)/include/cudnn.h),)
    HAVE_CUDA := 1
  endif
endif
# -Werror all-warnings: nvcc's own warnings fail the build too, as -Werror does for cc.
NVCCFLAGS ?= -O3 -std=c++17 -arch=sm_90 -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror
# A CUDA build puts the CUDA kernels, lib/'s _cuda.c sources (the ops table)
# and cuDNN/cuBLAS into the backend $(BUILD)/lib/ekn/libekn-cuda.so, which
# lib/core/cuda_load.c opens at run time: the commands link none of the CUDA
# libraries, so one build runs on machines with and without them.  The
# backend takes ekn_err_set and ekn_info from the program (-rdynamic) and
# binds its own symbols inside itself (-Bsymbolic).  The unit tests link the
# backend's objects directly.  A CPU-only build links lib/'s _none.c
# stand-ins instead.
ifdef HAVE_CUDA
  CU_SRC     := $(wildcard kernels/*.cu kernels/cuda/*.cu)
  CUDA_BACKEND_OBJ := $(CU_SRC:%.cu=$(BUILD)/obj/%.o) \
                $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(WINGS:%=lib/%/*_cuda.c)))
  CUDA_BACKEND := $(BUILD)/lib/ekn/libekn-cuda.so
  CUDA_LDLIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudnn -lcublas -lcudart -lstdc++
  LDLIBS_EKN += -ldl -rdynamic
  NOT_BUILT  := %_none.c %_cuda.c
  PIC        := -fPIC
else
  CUDA_BACKEND_OBJ :=
  CUDA_BACKEND :=
  CUDA_LDLIBS :=
  NOT_BUILT  := %_cuda.c lib/core/cuda_load.c
  PIC        :=
endif

# ---- optional MPI (data-parallel ekn-train; lib/core/dist.h) -------------
# Found through pkg-config ompi-c, else mpicc (Debian: libopenmpi-dev).  The
# build then has lib/core/dist_mpi.c, else dist_single.c (a world of one).
# Only a command that calls dist.h (ekn-train) pulls dist_mpi.o out of the
# archive, and --as-needed links libmpi into that command alone.
ifneq ($(MPI),0)
  MPI_LIBS := $(shell pkg-config --libs ompi-c 2>/dev/null || mpicc --showme:link 2>/dev/null)
  ifneq ($(strip $(MPI_LIBS)),)
    HAVE_MPI   := 1
    MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null || mpicc --showme:compile 2>/dev/null)
  endif
endif
ifdef HAVE_MPI
  NOT_BUILT  += lib/core/dist_single.c
  LDLIBS_EKN += -Wl,--push-state,--as-needed $(MPI_LIBS) -Wl,--pop-state
else
  NOT_BUILT  += lib/core/dist_mpi.c
endif

LIB_SRC  := $(filter-out $(NOT_BUILT),$(wildcard $(WINGS:%=lib/%/*.c) kernels/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libekn.a
CMD_SRC  := $(wildcard cmd/ekn-*.c)
BINS     := $(CMD_SRC:cmd/%.c=$(BUILD)/bin/%)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all features check check-unit check-bats check-man check-wings check-asan bench gpu-check deps install clean demo
all: features $(LIB) $(BINS) $(CUDA_BACKEND) bin

features:
	@pkg-config --exists openblas && echo "✓ OpenBLAS" || echo "✗ OpenBLAS (make deps)"
	@pkg-config --exists hdf5 && echo "✓ HDF5" || echo "✗ HDF5 (make deps)"
	@pkg-config --exists libarchive && echo "✓ libarchive" || echo "✗ libarchive (make deps)"
ifdef HAVE_CUDA
	@echo "✓ CUDA ($(NVCC))"
	@echo "✓ cuDNN ($(CUDA_HOME)/include/cudnn.h)"
else
	@echo "✗ CUDA$(if $(filter 0,$(CUDA)), (CUDA=0),) — CPU only"
endif
ifdef HAVE_MPI
	@echo "✓ MPI (Open MPI $(shell pkg-config --modversion ompi-c 2>/dev/null || echo '(mpicc)'))"
else
	@echo "✗ MPI$(if $(filter 0,$(MPI)), (MPI=0), (make deps)) — ekn-train runs as one process"
endif

# bin/ is a link to the release build's binaries, so `bin/ekn-train` works from the top.
bin: $(BINS)
	@if [ "$(BUILD)" = "build/release" ]; then ln -sfn build/release/bin bin; fi

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@$(if $(Q),echo '  AR      $@')
	$(Q)ar rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(CPPFLAGS_EKN) $(CFLAGS_EKN) $(if $(filter %_cuda.c,$<),$(PIC)) -c $< -o $@

$(BUILD)/obj/lib/core/dist_mpi.o: CPPFLAGS_EKN += $(MPI_CFLAGS)

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  NVCC    $<')
	$(Q)$(NVCC) $(NVCCFLAGS) $(if $(PIC),-Xcompiler $(PIC)) $(LIB_INCLUDES) -c $< -o $@

$(CUDA_BACKEND): $(CUDA_BACKEND_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) -shared -Wl,-Bsymbolic $^ $(CUDA_LDLIBS) -o $@

$(BUILD)/bin/%: $(BUILD)/obj/cmd/%.o $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS_EKN) $< $(LIB) $(LDLIBS_EKN) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB) $(CUDA_BACKEND_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LINK    $@')
	$(Q)$(CC) $(CFLAGS_EKN) $< $(CUDA_BACKEND_OBJ) $(LIB) $(LDLIBS_EKN) $(CUDA_LDLIBS) -lcmocka -o $@

# ---- tests ----------------------------------------------------------------
check: all $(UNITS)
	@$(MAKE) --no-print-directory check-wings check-unit check-bats check-man BUILD=$(BUILD)

check-unit: $(UNITS)
	@fail=0; for t in $(UNITS); do \
	  $$t >$$t.log 2>&1; rc=$$?; \
	  case $$rc in 0) echo "ok    $$t";; 77) echo "skip  $$t ($$(tail -n1 $$t.log))";; \
	  *) echo "FAIL  $$t (exit $$rc)"; cat $$t.log; fail=1;; esac; \
	done; exit $$fail

check-bats: $(BINS)
	EKN_BIN=$(abspath $(BUILD)/bin) bats tests/

# lib/README's include rules between the wings of lib/
check-wings:
	tests/check_wings.sh

check-man:
	mandoc -Tlint -Wwarning man/*.[0-9]

check-asan:
	$(MAKE) check BUILD=build/asan OPTFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" CUDA=0

# The main job: Fashion-MNIST preprocessed, the CNN trained, evaluated on the test set.
demo: all
	$(MAKE) -C examples/fmnist cnn EKN_BIN=$(abspath $(BUILD)/bin)/

bench: all
	bench/run.sh $(abspath $(BUILD)/bin)

gpu-check:
	BUILD=$(BUILD) bench/gpu_check.sh

deps:
	.ci/deps.sh

# ---- fuzzing (tests/fuzz/README) -------------------------------------------
# make fuzz FUZZ_TIME=S: each libFuzzer harness for S seconds (default 30)
# under ASan and UBSan, from its seed corpus in tests/fuzz/corpus/NAME (new
# inputs go to build/fuzz/corpus/NAME); a crash leaves its input in
# build/fuzz and fails the target.  Needs clang (make deps installs it).
FUZZ_TIME  ?= 30
FUZZ_CC    ?= clang
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZERS    := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS  := $(FUZZERS:%=build/fuzz/fuzz_%)
.PHONY: fuzz fuzz-build
fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: no $(FUZZ_CC) (make deps installs clang)" >&2; exit 1; }
	@$(MAKE) --no-print-directory build/fuzz/libekn.a BUILD=build/fuzz CC=$(FUZZ_CC) CUDA=0 \
	  OPTFLAGS="-O1 -g -fno-omit-frame-pointer -Wno-unknown-warning-option" SANFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link"
	@$(MAKE) --no-print-directory $(FUZZ_BINS) BUILD=build/fuzz CC=$(FUZZ_CC) CUDA=0

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c build/fuzz/libekn.a tests/fuzz/fuzz.h tests/fuzz/fuzz_readers.h
	@$(if $(Q),echo '  FUZZ    $@')
	$(Q)$(FUZZ_CC) -std=c11 -Wall -Wextra -Werror -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer $(LIB_INCLUDES) -Itests/fuzz $< build/fuzz/libekn.a \
	  $(LDLIBS_EKN) -o $@

fuzz: fuzz-build
	@for f in $(FUZZERS); do \
	  mkdir -p build/fuzz/corpus/$$f; \
	  echo "fuzz $$f: $(FUZZ_TIME) s"; \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 build/fuzz/fuzz_$$f -max_total_time=$(FUZZ_TIME) -rss_limit_mb=2048 \
	    -max_len=65536 -timeout=10 -print_final_stats=1 -artifact_prefix=build/fuzz/$$f- \
	    build/fuzz/corpus/$$f tests/fuzz/corpus/$$f 2>build/fuzz/$$f.log || { tail -40 build/fuzz/$$f.log; exit 1; }; \
	  grep -E '^stat::number_of_executed_units' build/fuzz/$$f.log; \
	done

# make install: the commands (stripped unless DEBUG=1), man pages, one
# completion file per shell (bash-completion finds each command through a
# link to it), the library with its headers and a pkg-config file
# (`pkg-config --cflags --libs ekn`: libekn.a and what it needs, a sanitizer
# build's -fsanitize flags included), the example specs the man
# pages cite, and the numpy stream reader/writer as the module ekn_stream.
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PYTHONDIR  ?= $(PREFIX)/lib/python3/dist-packages
STRIP_FLAG := $(if $(filter 1,$(DEBUG)),,-s)
HEADERS    := $(wildcard $(WINGS:%=lib/%/*.h) kernels/*.h)
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/ekn/nets \
	  $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/ekn $(DESTDIR)$(PYTHONDIR)
	install -m 755 $(STRIP_FLAG) $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(wildcard man/*.5) $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 $(wildcard man/*.7) $(DESTDIR)$(PREFIX)/share/man/man7/
	install -m 644 completions/ekn.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/ekn
	for c in $(notdir $(BINS)); do \
	  ln -sf ekn $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$c; done
	install -m 644 completions/_ekn $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_ekn
	install -m 644 $(wildcard examples/nets/*.spec) $(DESTDIR)$(PREFIX)/share/ekn/nets/
	install -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/
	$(if $(CUDA_BACKEND),install -d $(DESTDIR)$(PREFIX)/lib/ekn && \
	  install -m 755 $(STRIP_FLAG) $(CUDA_BACKEND) $(DESTDIR)$(PREFIX)/lib/ekn/)
	install -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/ekn/
	install -m 644 tests/ekn_stream.py $(DESTDIR)$(PYTHONDIR)/
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' 'Name: ekn' \
	  'Description: streams, layers, losses and optimisers of the ekn toolkit' 'Version: $(VERSION)' \
	  'Requires: $(PKGS)' 'Cflags: -I$${includedir}/ekn' \
	  'Libs: -L$${libdir} -lekn $(SANFLAGS) $(filter-out $(PKG_LIBS),$(LDLIBS_EKN))' >$(DESTDIR)$(LIBDIR)/pkgconfig/ekn.pc

clean:
	rm -rf build bin

.SECONDARY:
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
