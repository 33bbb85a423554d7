// Host signals raised while translated code runs.
//
// Guest instructions run natively, so a guest #DE arrives as SIGFPE, a
// misaligned movaps as SIGSEGV, an x87 or SIMD exception as SIGFPE. The
// handler (on an alternate stack: host rsp is a guest address) finds the
// block and the native span that faulted, rebuilds the precise guest
// registers (displaced ones from their spill slots), records the guest
// exception and redirects the interrupted context to the signal_exit thunk.
// A write fault on the poll page is how a stop or interrupt request reaches
// chained code: it leaves at the block entry with nothing to rebuild.
//
// A signal from anywhere else is a VMM bug: it is reported and the process
// dies with the signal's default action.
#pragma once

#include <string>

namespace xlat {

class VcpuRuntime;

// Process-wide, once.
bool InstallHostSignalHandlers(std::string* error);
// Per vCPU thread, before it runs guest code: the alternate signal stack.
bool PrepareThreadForGuest(std::string* error);

// The runtime running guest code on this thread, if any.
VcpuRuntime* CurrentRuntime();

}  // namespace xlat
