# wfsession: build, test, demo, install.
# Every variable is overridable: `make LUA_PC=lua5.3 LUA=lua5.3`, `make DEV=1`.

PKG_CONFIG ?= pkg-config
LUA_PC     ?= lua5.4
LUA        ?= lua5.4
LUA_VERSION ?= $(shell $(PKG_CONFIG) --modversion $(LUA_PC) 2>/dev/null | cut -d. -f1,2)
LUA_INCDIR ?=
LUA_CFLAGS ?= $(if $(LUA_INCDIR),-I$(LUA_INCDIR),$(shell $(PKG_CONFIG) --cflags $(LUA_PC)))
CURL_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags libcurl)
CURL_LIBS  ?= $(shell $(PKG_CONFIG) --libs libcurl)

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    = -std=c99 -Wall -Wextra -Wno-unused-parameter
ifeq ($(DEV),1)
WARN   += -pedantic -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
          -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef
endif
LIBFLAG ?= -shared
ALL_CFLAGS = $(CFLAGS) $(WARN) -fPIC -D_POSIX_C_SOURCE=200809L $(LUA_CFLAGS) $(CURL_CFLAGS)

PREFIX   ?= /usr/local
LUA_LMOD ?= $(PREFIX)/share/lua/$(LUA_VERSION)
LUA_CMOD ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
BINDIR   ?= $(PREFIX)/bin
INSTALL  ?= install

SRCS = $(wildcard csrc/*.c)
OBJS = $(SRCS:.c=.o)
CORE = wfsession/core.so
BUSTED = $(LUA) /usr/bin/busted
# Run in-tree: the Lua layer from lua/, the core from ./wfsession/core.so.
INTREE = LUA_PATH="./lua/?.lua;./lua/?/init.lua;;" LUA_CPATH="./?.so;;"

.PHONY: all deps test demo bench install clean lint fresh-check

all: $(CORE)

$(CORE): $(OBJS)
	@mkdir -p wfsession
	$(CC) $(LIBFLAG) -o $@ $(OBJS) $(CURL_LIBS) $(LDFLAGS)

csrc/%.o: csrc/%.c $(wildcard csrc/*.h)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Installs whatever Debian packages are missing (apt-get as root, else sudo).
deps:
	@sh .ci/deps.sh

test: deps
	@$(MAKE) --no-print-directory all
	$(BUSTED) $(BUSTED_ARGS)

demo: deps
	@$(MAKE) --no-print-directory all
	$(INTREE) $(LUA) examples/demo.lua

bench: all
	$(INTREE) $(LUA) bench/run.lua

# make demo + make test on a minimal Debian 12 root (debootstrap + chroot; root or sudo).
fresh-check:
	bash tools/fresh-check.sh

lint:
	luacheck lua spec examples bench bin/wfsession-sandbox

install: $(CORE)
	$(INSTALL) -d $(DESTDIR)$(LUA_CMOD)/wfsession $(DESTDIR)$(LUA_LMOD)/wfsession $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 0755 $(CORE) $(DESTDIR)$(LUA_CMOD)/wfsession/core.so
	cd lua && find wfsession -name '*.lua' -exec $(INSTALL) -D -m 0644 {} $(DESTDIR)$(LUA_LMOD)/{} \;
	$(INSTALL) -m 0755 bin/wfsession-sandbox $(DESTDIR)$(BINDIR)/

clean:
	rm -f csrc/*.o $(CORE)
	rm -rf wfsession
include mk/quality.mk
