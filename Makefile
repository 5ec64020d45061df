# wfsession: build, test, demo, install.
#
# LUA picks the Lua the core is built for and the specs run on: lua5.4 (the
# default), lua5.3, lua5.1 or luajit (OpenResty's LuaJIT 2.1, Debian luajit2).
# Objects live in build/<LUA>/; an in-tree build copies that target's core to
# wfsession/core.so (where the specs and the examples find it), and changing
# LUA copies the other one. Every variable is overridable: `make LUA=luajit`,
# `make DEV=1`, `make LUA_INCDIR=/opt/lua/include`.

LUA        ?= lua5.4
PKG_CONFIG ?= pkg-config
# LuaJIT's pkg-config module is "luajit"; it speaks the 5.1 ABI and installs to the 5.1 trees
LUA_PC     ?= $(LUA)
LUA_VERSION ?= $(if $(filter luajit,$(LUA) $(LUA_PC)),5.1,$(shell $(PKG_CONFIG) --modversion $(LUA_PC) 2>/dev/null | cut -d. -f1,2))
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

SRCS    = $(wildcard csrc/*.c)
HDRS    = $(wildcard csrc/*.h)
BUILD   = build/$(LUA)
OBJS    = $(patsubst csrc/%.c,$(BUILD)/obj/%.o,$(SRCS))
BUILT   = $(BUILD)/wfsession/core.so
CORE    = wfsession/core.so
BUSTED  = $(LUA) /usr/bin/busted
# Run in-tree: the Lua layer from lua/, the core from ./wfsession/core.so.
INTREE  = LUA_PATH="./lua/?.lua;./lua/?/init.lua;;" LUA_CPATH="./?.so;;"

# Which target the in-tree core was copied from: rewritten (so newer) when LUA changes.
TARGET_STAMP = wfsession/.target
ifndef WFS_NOSTAMP
$(shell mkdir -p wfsession; [ "`cat $(TARGET_STAMP) 2>/dev/null`" = "$(LUA)" ] || echo "$(LUA)" > $(TARGET_STAMP))
endif

.PHONY: all core-luajit deps test demo bench install install-check docs clean lint fresh-check

all: $(CORE)

# through a rename: a process that has the old core loaded keeps its copy
$(CORE): $(BUILT) $(TARGET_STAMP)
	cp $(BUILT) $@.tmp && mv -f $@.tmp $@

$(BUILT): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) -o $@ $(OBJS) $(CURL_LIBS) $(LDFLAGS)

$(BUILD)/obj/%.o: csrc/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The LuaJIT core the nginx specs load (build/luajit/wfsession/core.so), whatever LUA is.
core-luajit:
	@$(MAKE) --no-print-directory WFS_NOSTAMP=1 LUA=luajit LUA_PC=luajit LUA_VERSION=5.1 LUA_INCDIR= \
	  LUA_CFLAGS="`$(PKG_CONFIG) --cflags luajit`" build/luajit/wfsession/core.so

# Installs whatever Debian packages are missing (apt-get as root, else sudo).
deps:
	@WFS_LUA="$(LUA)" sh .ci/deps.sh

test: deps
	@$(MAKE) --no-print-directory all core-luajit
	$(BUSTED) $(BUSTED_ARGS)

demo:
	@WFS_LUA="$(LUA)" WFS_DEPS=run sh .ci/deps.sh
	@$(MAKE) --no-print-directory all
	$(INTREE) $(LUA) examples/demo.lua

bench: all
	$(INTREE) $(LUA) bench/run.lua

# make demo + make test on a minimal Debian 12 root (debootstrap + chroot; root or sudo).
fresh-check:
	bash tools/fresh-check.sh

lint:
	luacheck lua spec examples bench bin/wfsession

# The module, the command (its first line naming $(LUA)) and the sandbox, for the chosen Lua.
install: $(BUILT)
	$(INSTALL) -d $(DESTDIR)$(LUA_CMOD)/wfsession $(DESTDIR)$(LUA_LMOD)/wfsession $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 0755 $(BUILT) $(DESTDIR)$(LUA_CMOD)/wfsession/core.so
	cd lua && find wfsession -name '*.lua' -exec $(INSTALL) -D -m 0644 {} $(DESTDIR)$(LUA_LMOD)/{} \;
	sed '1s|.*|#!/usr/bin/env $(LUA)|' bin/wfsession > $(DESTDIR)$(BINDIR)/wfsession
	chmod 0755 $(DESTDIR)$(BINDIR)/wfsession
	$(INSTALL) -m 0755 bin/wfsession-sandbox $(DESTDIR)$(BINDIR)/

# The API reference (LDoc, config.ld) in build/docs/index.html.
docs:
	@command -v ldoc >/dev/null || WFS_LUA="$(LUA)" sh .ci/deps.sh
	ldoc .

# Installs into temporary trees (make install, luarocks make) and runs the command from each.
install-check: $(BUILT)
	LUA=$(LUA) bash tools/install-check.sh

clean:
	rm -rf build/lua5.1 build/lua5.3 build/lua5.4 build/luajit wfsession csrc/*.o
include mk/quality.mk
