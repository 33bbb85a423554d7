#!/bin/sh
# check_elf.sh ELF [RAM]
#
# Checks that a guest program image fits xlat's -kernel loader contract:
# ELF64 x86-64 executable, no PT_INTERP / PT_DYNAMIC, PT_LOAD segments
# page-aligned at and above 1 MiB with p_vaddr == p_paddr, the entry point in
# an executable segment, code and writable data never on a shared page, and
# everything below RAM - 1 MiB (the top MiB holds xlat's page tables).
# RAM defaults to 512M (accepts K/M/G suffixes).
set -eu
elf=$1
ram=${2:-512M}
case $ram in
  *G) ram_bytes=$(( ${ram%G} << 30 )) ;;
  *M) ram_bytes=$(( ${ram%M} << 20 )) ;;
  *K) ram_bytes=$(( ${ram%K} << 10 )) ;;
  *) ram_bytes=$ram ;;
esac
limit=$(( ram_bytes - (1 << 20) ))

fail() { echo "check_elf: $elf: $*"; exit 1; }

header=$(readelf -h "$elf")
echo "$header" | grep -q 'Class:.*ELF64' || fail "not ELF64"
echo "$header" | grep -q 'Machine:.*X86-64' || fail "not x86-64"
echo "$header" | grep -q 'Type:.*EXEC' || fail "not an executable (ET_EXEC)"
entry=$(echo "$header" | awk '/Entry point address/ {print $4}')

phdrs=$(readelf -lW "$elf")
echo "$phdrs" | grep -qE '^\s+INTERP' && fail "has PT_INTERP"
echo "$phdrs" | grep -qE '^\s+DYNAMIC' && fail "has PT_DYNAMIC"

# Type Offset VirtAddr PhysAddr FileSiz MemSiz Flg... Align
echo "$phdrs" | awk -v entry="$entry" -v limit="$limit" '
  function hex(s,    v, i, c) {   # mawk has no strtonum
    v = 0; s = tolower(s); sub(/^0x/, "", s)
    for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)); v = v * 16 + c - 1 }
    return v
  }
  $1 == "LOAD" {
    n++
    va = hex($3); pa = hex($4); fsz = hex($5); msz = hex($6)
    flags = ""
    for (i = 7; i < NF; i++) flags = flags $i
    if (va != pa) { print "p_vaddr != p_paddr in segment " n; bad = 1 }
    if (va % 4096 != 0) { print "segment " n " not 4 KiB aligned"; bad = 1 }
    if (va < 1048576) { print "segment " n " below 1 MiB"; bad = 1 }
    if (va + msz > limit) { printf "segment %d ends at %#x, beyond RAM - 1 MiB (%#x)\n", n, va + msz, limit; bad = 1 }
    if (msz < fsz) { print "segment " n " memsz < filesz"; bad = 1 }
    start[n] = va; end[n] = va + msz; fl[n] = flags
    if (index(flags, "E") && hex(entry) >= va && hex(entry) < va + msz) entry_ok = 1
  }
  END {
    if (n == 0) { print "no PT_LOAD segment"; bad = 1 }
    if (!entry_ok) { print "entry " entry " is not in an executable segment"; bad = 1 }
    for (i = 1; i <= n; i++) for (j = 1; j <= n; j++) {
      if (i == j || !index(fl[i], "E") || !index(fl[j], "W")) continue
      # pages of an executable segment and of a writable one must not meet
      if (int((end[i] - 1) / 4096) >= int(start[j] / 4096) && int((end[j] - 1) / 4096) >= int(start[i] / 4096)) {
        print "code segment " i " and writable segment " j " share a page"; bad = 1
      }
    }
    exit bad
  }' || fail "bad program headers"
echo "check_elf: $elf: ok (entry $entry)"
