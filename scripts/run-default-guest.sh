#!/bin/sh
# Runs the default guest: until Linux boots under xlat, the bundled guest
# program roms/hello.c, which prints to the serial console.
set -eu
BUILD=${1:-build}
exec "$BUILD/xlat" -kernel "$BUILD/roms/hello.elf" -m 256M
