# GuestProgram.cmake — xlat_guest_program(): one C source set, two programs.
#
#   xlat_guest_program(NAME SOURCES a.c b.c... [OUTPUT_DIR dir] [GUEST_ONLY])
#
# makes the targets
#   NAME.elf     the freestanding guest image for `xlat -kernel NAME.elf`
#   NAME.native  the same program as a Linux executable (the reference);
#                not made with GUEST_ONLY (a program that needs ring 0)
# both written to OUTPUT_DIR (default: ${CMAKE_BINARY_DIR}/roms).
#
# Both builds use the same code generation flags (-O2 -march=x86-64-v3,
# non-PIE, no stack protector, no red zone) so that the code xlat translates
# is the code that ran natively, as far as a freestanding build allows. No red
# zone in either build: inline asm in the tests pushes and calls, and the
# guest may one day take an exception frame below rsp. The guest build adds
# -ffreestanding -nostdlib and links with runtime/guest.ld.
#
# Include it from any directory that makes guest programs (roms/ and bench/
# do): the flag variables below are directory-scoped, the runtime targets are
# made once.

set(XLAT_GUEST_RUNTIME_DIR ${CMAKE_CURRENT_LIST_DIR}/runtime)

# Code generation shared by both builds (C and assembler sources). Neither is
# instrumented by a sanitizer build: the native program is the reference and
# must be the same code as the guest (its inline assembly names registers a
# sanitizer's instrumentation would want).
set(XLAT_GUEST_COMMON_FLAGS -O2 -march=x86-64-v3 -fno-pie -fno-stack-protector -mno-red-zone
    -fno-asynchronous-unwind-tables -fcf-protection=none -Wall -Wextra -fno-sanitize=all)
# Only the guest build: no hosted C library, but the compiler may still
# inline memcpy & co. as it does natively (-fbuiltin). No sanitizer runtime
# exists in the guest, whatever CMAKE_C_FLAGS a sanitizer build adds.
set(XLAT_GUEST_ONLY_FLAGS -ffreestanding -fbuiltin -fno-sanitize=all)
set(XLAT_GUEST_LINK_FLAGS -nostdlib -static -no-pie -fno-sanitize=all
    -T ${XLAT_GUEST_RUNTIME_DIR}/guest.ld
    -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack
    -Wl,--no-dynamic-linker)

if(NOT TARGET xlat_guest_runtime)
  # The runtime objects for each flavour, built once and linked into every program.
  add_library(xlat_guest_runtime OBJECT
    ${XLAT_GUEST_RUNTIME_DIR}/start.S
    ${XLAT_GUEST_RUNTIME_DIR}/guest.c
    ${XLAT_GUEST_RUNTIME_DIR}/format.c)
  target_compile_options(xlat_guest_runtime PRIVATE ${XLAT_GUEST_COMMON_FLAGS} ${XLAT_GUEST_ONLY_FLAGS}
    -fno-tree-loop-distribute-patterns)  # memset must not become a call to memset
  target_include_directories(xlat_guest_runtime PUBLIC ${XLAT_GUEST_RUNTIME_DIR})

  add_library(xlat_native_runtime OBJECT
    ${XLAT_GUEST_RUNTIME_DIR}/native_shim.c
    ${XLAT_GUEST_RUNTIME_DIR}/format.c)
  target_compile_options(xlat_native_runtime PRIVATE ${XLAT_GUEST_COMMON_FLAGS})
  target_include_directories(xlat_native_runtime PUBLIC ${XLAT_GUEST_RUNTIME_DIR})
endif()

function(xlat_guest_program NAME)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "GUEST_ONLY" "OUTPUT_DIR" "SOURCES")
  if(NOT ARG_SOURCES)
    set(ARG_SOURCES ${ARG_UNPARSED_ARGUMENTS})
  endif()
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${CMAKE_BINARY_DIR}/roms)
  endif()

  add_executable(${NAME}.elf ${ARG_SOURCES})
  target_compile_options(${NAME}.elf PRIVATE ${XLAT_GUEST_COMMON_FLAGS} ${XLAT_GUEST_ONLY_FLAGS})
  target_compile_definitions(${NAME}.elf PRIVATE XLAT_GUEST=1)
  target_link_options(${NAME}.elf PRIVATE ${XLAT_GUEST_LINK_FLAGS})
  target_link_libraries(${NAME}.elf PRIVATE xlat_guest_runtime gcc)
  set_target_properties(${NAME}.elf PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR}
    LINK_DEPENDS ${XLAT_GUEST_RUNTIME_DIR}/guest.ld)
  if(ARG_GUEST_ONLY)
    return()
  endif()

  add_executable(${NAME}.native ${ARG_SOURCES})
  target_compile_options(${NAME}.native PRIVATE ${XLAT_GUEST_COMMON_FLAGS})
  target_compile_definitions(${NAME}.native PRIVATE XLAT_NATIVE=1)
  target_link_options(${NAME}.native PRIVATE -no-pie -fno-sanitize=all)
  target_link_libraries(${NAME}.native PRIVATE xlat_native_runtime)
  set_target_properties(${NAME}.native PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR})

  # tests/roms registers a comparison test for every program it finds here.
  set_property(GLOBAL APPEND PROPERTY XLAT_GUEST_PROGRAMS ${NAME})
endfunction()
