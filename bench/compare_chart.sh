#!/usr/bin/env bash
# Draw the paravirtual-vs-emulated comparison that `pvmm bench compare`
# writes as compare.dat: docs/img/compare.png and docs/img/compare.svg.
#
#   bench/compare_chart.sh [DAT [OUTDIR]]
#       DAT     default bench/results/compare.dat
#       OUTDIR  default docs/img
#
# Left panel: VM exits per KiB moved, every workload over every path (log
# scale: the paths differ by orders of magnitude). Right panel: the
# guest-visible throughput of the block and network workloads. Bars are blue for the
# paravirtual paths and orange for the emulated ones, each with its value.
#
# compare.dat format (one run per line, '#' lines are comments):
#   workload path exits_per_kib mb_per_s monitor_cpu_ms paravirtual [ring]
#   e.g.  blk-read virtio 0.06201 41.0985 56.448 1 3
# workload: console, blk-write, blk-read, net-send; path: hypercall,
# virtio, uart, ide, ne2000; paravirtual: 1 or 0; ring: the guest's ring, 0 or 3 (0 when the
# column is absent, as in files from before it). Rows in other orders, or
# other workloads and paths, are drawn too (known ones first, in the order
# above). When the file holds more than one ring, each workload's bars
# come ring by ring and each bar is labelled PATH/rRING (virtio/r3).
# Needs gnuplot with the pngcairo and svg terminals (Debian: gnuplot-nox).
set -euo pipefail

cd "$(dirname "$0")/.."
dat=${1:-bench/results/compare.dat}
out=${2:-docs/img}

if ! command -v gnuplot >/dev/null 2>&1; then
	echo "compare_chart: gnuplot is not installed (Debian package gnuplot-nox; make deps installs it)" >&2
	exit 1
fi
if [ ! -r "$dat" ]; then
	echo "compare_chart: cannot read $dat: run 'pvmm bench compare' (make bench does) first" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Order the rows (known workloads and paths first), check them, and give
# each bar an x position with a gap between workloads. Output columns:
#   x workload path exits_per_kib mb_per_s paravirtual
# How many rings the file holds: with more than one, bars name theirs.
rings=$(awk '!/^[ \t]*#/ && NF >= 6 { r[NF >= 7 ? $7 : 0] = 1 } END { n = 0; for (k in r) n++; print n }' "$dat")
awk -v bad="$tmp/bad" -v rings="$rings" '
function rank(w, p, ring,   r) {
	r = (w == "console") ? 0 : (w == "blk-write") ? 1 : (w == "blk-read") ? 2 : (w == "net-send") ? 3 : 4
	return r * 100 + ring * 10 + ((p == "hypercall") ? 0 : (p == "virtio") ? 1 : (p == "uart") ? 2 : (p == "ide") ? 3 : (p == "ne2000") ? 4 : 5)
}
/^[ \t]*#/ || NF == 0 { next }
NF < 6 || $3 !~ /^[0-9.eE+-]+$/ || $4 !~ /^[0-9.eE+-]+$/ || ($6 != "0" && $6 != "1") || (NF >= 7 && $7 !~ /^[0-9]$/) {
	print FILENAME ":" FNR ": expected: workload path exits_per_kib mb_per_s monitor_cpu_ms paravirtual [ring]" > bad
	next
}
{
	ring = NF >= 7 ? $7 : 0
	path = rings > 1 ? $2 "/r" ring : $2
	printf "%d %d %s %s %s %s %s %s\n", rank($1, $2, ring), NR, $1, path, $3, $4, $6, ring
}
' "$dat" | sort -n -k1,1 -k2,2 | awk '
{
	if (NR > 1 && $3 != last) x += 0.6          # gap between workloads
	else if (NR > 1 && $8 != last_ring) x += 0.3 # and between rings
	if (NR > 1) x += 1
	last = $3
	last_ring = $8
	printf "%.1f %s %s %s %s %s\n", x, $3, $4, $5, $6, $7
}' >"$tmp/bars"
if [ -s "$tmp/bad" ]; then
	cat "$tmp/bad" >&2
	exit 1
fi
if [ ! -s "$tmp/bars" ]; then
	echo "compare_chart: $dat has no runs in it" >&2
	exit 1
fi
# The block and network workloads again, for the throughput panel,
# re-spaced (net-send: 1-KiB frames, so MB/s is ~packets/s / 1000).
awk '$2 ~ /^(blk|net)/ {
	if (n > 0 && $2 != last) x += 0.6
	if (n > 0) x += 1
	n++; last = $2
	printf "%.1f %s %s %s %s %s\n", x, $2, $3, $4, $5, $6
}' "$tmp/bars" >"$tmp/blk"

# Axis ranges: whole decades around the data for the log axis; the
# throughput axis goes log too when the paths differ by more than 30x.
read -r ex_lo ex_hi < <(awk '$4 > 0 { v = log($4) / log(10); if (!n++ || v < lo) lo = v; if (n == 1 || v > hi) hi = v }
	END { if (!n) { lo = -2; hi = 2 } printf "%g %g\n", 10 ^ int(lo - (lo < 0 ? 1 : 0)), 10 ^ (int(hi + (hi < 0 ? 0 : 1)) + 0.3) }' "$tmp/bars")
read -r mb_log mb_lo mb_hi < <(awk '$5 > 0 { if (!n++ || $5 < lo) lo = $5; if (n == 1 || $5 > hi) hi = $5 }
	END {
		if (!n) { print 0, 0, 1; exit }
		if (hi / lo > 30) { l = log(lo) / log(10); printf "1 %g %g\n", 10 ^ int(l - (l < 0 ? 1 : 0)), hi * 4 }
		else printf "0 0 %g\n", hi * 1.2
	}' "$tmp/blk")
# Workload names centred under their group of bars (the bars carry the path).
group_labels() { # FILE: gnuplot commands
	awk '{ if ($2 != last && n) print_group(); if ($2 != last) { first = $1; last = $2 } lastx = $1; n++ }
	END { if (n) print_group() }
	function print_group() { printf "set label \"%s\" at first %g, graph 0 center offset 0,-2.6 font \",11\"\n", last, (first + lastx) / 2 }' "$1"
}
group_labels "$tmp/bars" >"$tmp/labels-exits.gp"
group_labels "$tmp/blk" >"$tmp/labels-blk.gp"
stamp=$(date -u -r "$dat" '+%Y-%m-%d %H:%M UTC')
have_blk=0
[ -s "$tmp/blk" ] && have_blk=1

mkdir -p "$out"
cat >"$tmp/plot.gp" <<EOF
bars = "$tmp/bars"
blk = "$tmp/blk"
pv_color = "#2f6db5"
emu_color = "#e07b24"
color(pv) = pv > 0.5 ? 0x2f6db5 : 0xe07b24
label(w, p) = p
fmtv(v) = v >= 100 ? sprintf("%.0f", v) : v >= 10 ? sprintf("%.1f", v) : v >= 0.1 ? sprintf("%.2f", v) : sprintf("%.3f", v)

set encoding utf8
set multiplot layout 1,$((1 + have_blk)) title "pvmm: the same guest workload over paravirtual and emulated I/O paths\n{/*0.75 from $dat, $stamp; lower exits are better, higher MB/s is better}" font ",15"
set style fill solid 0.9 border rgb "#404040"
set grid ytics lt 1 lw 1 lc rgb "#e4e4e4"
set border 3
set xtics nomirror scale 0 font ",$([ "$rings" -gt 1 ] && echo 9 || echo 10)" offset 0,0.3
set ytics nomirror
set key top left box opaque samplen 1.5 spacing 1.2
set lmargin 12
set bmargin 5

# Exits per KiB: log scale, bars from the bottom of the axis.
set title "VM exits per KiB moved" font ",13"
set ylabel "VM exits per KiB (log scale)"
set logscale y
set format y "10^{%L}"
set yrange [$ex_lo:$ex_hi]
set xrange [-0.8:*]
set offsets 0, 0.8, 0, 0
load "$tmp/labels-exits.gp"
plot bars using 1:4:(\$1 - 0.4):(\$1 + 0.4):($ex_lo):4:(color(\$6)):xtic(label(strcol(2), strcol(3))) \
	with boxxyerror lc rgb variable notitle, \
     bars using 1:4:(fmtv(\$4)) with labels offset 0,0.8 font ",10" notitle, \
     NaN with boxes lc rgb pv_color title "paravirtual", \
     NaN with boxes lc rgb emu_color title "emulated"

if ($have_blk) {
	set title "Guest-visible block and network throughput" font ",13"
	unset logscale y
	set format y "%g"
	if ($mb_log) {
		set logscale y
		set ylabel "MB/s (log scale)"
		set yrange [$mb_lo:$mb_hi]
	} else {
		set ylabel "MB/s"
		set yrange [0:$mb_hi]
	}
	base = $mb_log ? $mb_lo : 0
	unset label
	load "$tmp/labels-blk.gp"
	plot blk using 1:5:(\$1 - 0.4):(\$1 + 0.4):(base):5:(color(\$6)):xtic(label(strcol(2), strcol(3))) \
		with boxxyerror lc rgb variable notitle, \
	     blk using 1:5:(fmtv(\$5)) with labels offset 0,0.8 font ",10" notitle, \
	     NaN with boxes lc rgb pv_color title "paravirtual", \
	     NaN with boxes lc rgb emu_color title "emulated"
}
unset multiplot
EOF

width=$((900 + 400 * have_blk))
# Two rings: twice the bars, so a wider chart.
[ "$rings" -gt 1 ] && width=$((1300 + 500 * have_blk))
gnuplot -e "set terminal pngcairo size $width,620 enhanced font 'DejaVu Sans,11' background rgb 'white'; set output '$out/compare.png'" "$tmp/plot.gp"
gnuplot -e "set terminal svg size $width,620 enhanced font 'DejaVu Sans,11' background rgb 'white'; set output '$out/compare.svg'" "$tmp/plot.gp"
echo "compare_chart: wrote $out/compare.png and $out/compare.svg"
