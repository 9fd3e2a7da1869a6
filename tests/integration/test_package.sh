# Packaging: the man page make install puts in PREFIX/share/man/man1, and
# make deb's package (built with dpkg-deb, read back, never installed).

# Every long option of `pvmm run` (cli.c's run_longopts) is in pvmm(1).
test_package_man_page_lists_every_option() {
	local opt missing=
	for opt in $(sed -n '/^static const struct option run_longopts/,/^};/s/.*{ "\([a-z-]*\)".*/\1/p' src/cli.c); do
		grep -qF -- "\\-\\-${opt//-/\\-}" docs/man/pvmm.1 || missing="$missing --$opt"
	done
	[ -z "$missing" ] || fail_because "docs/man/pvmm.1 lacks:$missing"
}

test_package_install_has_man_page() {
	local prefix=$TEST_TMP/prefix-man page
	make --no-print-directory -s install PREFIX="$prefix" >"$TEST_TMP/install.log" 2>&1 ||
		fail_because "make install failed: $(tail -c 400 "$TEST_TMP/install.log")"
	page=$prefix/share/man/man1/pvmm.1
	[ -f "$page" ] || { fail_because "no $page"; return; }
	grep -q '^\.TH PVMM 1 .*"pvmm [0-9]' "$page" || fail_because "no version in the .TH line: $(grep '^\.TH' "$page")"
	local warn
	warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
	[ -z "$warn" ] || fail_because "groff warns: $warn"
	MANWIDTH=80 man -l "$page" >"$TEST_TMP/man.txt" 2>"$TEST_TMP/man.err" ||
		fail_because "man -l failed: $(head -c 300 "$TEST_TMP/man.err")"
	grep -q "pvmm - run para-API guests" "$TEST_TMP/man.txt" || fail_because "man -l shows no NAME line"
	grep -q "EXIT STATUS" "$TEST_TMP/man.txt" || fail_because "man -l shows no EXIT STATUS"
}

test_package_deb() {
	command -v dpkg-deb >/dev/null || { echo "    (skipped: no dpkg-deb)"; return; }
	make --no-print-directory -s deb >"$TEST_TMP/deb.log" 2>&1 ||
		{ fail_because "make deb failed: $(tail -c 400 "$TEST_TMP/deb.log")"; return; }
	local deb
	deb=$(ls build/pvmm_*.deb 2>/dev/null | head -1)
	[ -n "$deb" ] || { fail_because "make deb left no build/pvmm_*.deb"; return; }
	dpkg-deb -c "$deb" >"$TEST_TMP/deb.list" || fail_because "dpkg-deb -c failed"
	local f
	for f in ./usr/bin/pvmm ./usr/bin/pvmm-cc ./usr/lib/pvmm/guest/libpvmm.a ./usr/lib/pvmm/guest/crt0.o \
		./usr/lib/pvmm/include/pvmm/para.h ./usr/lib/pkgconfig/pvmm.pc ./usr/share/man/man1/pvmm.1.gz; do
		grep -q " $f\$" "$TEST_TMP/deb.list" || fail_because "the package lacks $f"
	done
	grep -q ' root/root ' "$TEST_TMP/deb.list" || fail_because "files not owned by root: $(head -2 "$TEST_TMP/deb.list")"
	dpkg-deb -I "$deb" >"$TEST_TMP/deb.info" || fail_because "dpkg-deb -I failed"
	grep -q '^ Package: pvmm$' "$TEST_TMP/deb.info" || fail_because "no Package: pvmm"
	grep -q '^ Version: [0-9]' "$TEST_TMP/deb.info" || fail_because "no Version"
	grep -q "^ Architecture: $(dpkg --print-architecture)\$" "$TEST_TMP/deb.info" || fail_because "wrong Architecture"
	grep -q '^ Maintainer: ' "$TEST_TMP/deb.info" || fail_because "no Maintainer"
	grep -q '^ Description: ' "$TEST_TMP/deb.info" || fail_because "no Description"
	# The static monitor loads no shared library; pvmm-slirp loads libslirp.
	if readelf -d build/pvmm 2>/dev/null | grep -q NEEDED; then
		grep -q '^ Depends: ' "$TEST_TMP/deb.info" || fail_because "dynamic monitor but no Depends"
	fi
	if readelf -d build/pvmm-slirp 2>/dev/null | grep -q 'libslirp'; then
		grep -q '^ Depends: .*libslirp0' "$TEST_TMP/deb.info" ||
			fail_because "pvmm-slirp loads libslirp but Depends does not name libslirp0: $(grep Depends "$TEST_TMP/deb.info")"
	fi
	# Policy: a copyright file and a Debian changelog that parses.
	for f in ./usr/share/doc/pvmm/copyright ./usr/share/doc/pvmm/changelog.Debian.gz; do
		grep -q " $f\$" "$TEST_TMP/deb.list" || fail_because "the package lacks $f"
	done
	rm -rf "$TEST_TMP/debx"
	dpkg-deb -x "$deb" "$TEST_TMP/debx" || fail_because "dpkg-deb -x failed"
	grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
		"$TEST_TMP/debx/usr/share/doc/pvmm/copyright" || fail_because "copyright is not in the machine-readable format"
	grep -q 'liburing' "$TEST_TMP/debx/usr/share/doc/pvmm/copyright" ||
		fail_because "copyright does not name the libraries linked into the static monitor"
	if command -v dpkg-parsechangelog >/dev/null; then
		local ver
		ver=$(zcat "$TEST_TMP/debx/usr/share/doc/pvmm/changelog.Debian.gz" |
			dpkg-parsechangelog -l- -SVersion 2>&1)
		[ "$ver" = "$(dpkg-deb --field "$deb" Version)" ] ||
			fail_because "changelog.Debian does not parse to the package's version: $ver"
	fi
	dpkg-deb --field "$deb" Package >/dev/null || fail_because "the control file does not parse"
}
