# mk/quality.mk: memory checking and fuzzing of the C core.
# Included by the Makefile (`include mk/quality.mk`), which defines CORE and LUA.
#
#   make check-memory   the offline specs (WFS_ALL=1: every spec) and a focused
#                       exercise script under ASan+UBSan (build/asan/wfsession/core.so)
#                       and under valgrind (wfsession/core.so); any report fails
#   make fuzz           build the libFuzzer harnesses (fuzz/) and run them for
#                       FUZZ_SECONDS in total; a crash fails and leaves its input
#                       under build/fuzz/artifacts/<harness>/
#   make fuzz-build     only build them (build/fuzz/fuzz_<harness>)
#
# FUZZ_TARGETS picks harnesses: session pager cursor time error headers (default all).

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

.PHONY: check-memory fuzz fuzz-build

check-memory: $(CORE)
	WFS_NO_BUILD=1 LUA="$(LUA)" bash tools/check-memory.sh

fuzz:
	FUZZ_SECONDS="$(FUZZ_SECONDS)" bash fuzz/run.sh all $(FUZZ_TARGETS)

fuzz-build:
	bash fuzz/run.sh build $(FUZZ_TARGETS)
