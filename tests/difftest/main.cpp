// xlat_difftest: the differential test. The host CPU is the reference.
//
//   xlat_difftest [--seed S] [--sequences N] [--long] [--form NAME]
//                 [--seq-seed X] [--items N] [--max-reports K]
//   xlat_difftest --selfcheck [--sequences N]   native only: table, tracing, determinism
//   xlat_difftest --native-only ...             the "guest" is a second native run
//   xlat_difftest --list-forms
//
// Every sequence is generated from its own seed (derived from --seed and its
// number), run natively and in an xlat guest, and the two final states and
// data areas are compared. A mismatch is reported with the smallest failing
// prefix of the sequence, disassembled, and the command that reproduces it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "tests/difftest/forms.h"
#include "tests/difftest/generator.h"
#include "tests/difftest/guest_runner.h"
#include "tests/difftest/native_runner.h"
#include "tests/difftest/report.h"
#include "tests/difftest/selfcheck.h"

namespace difftest {
namespace {

struct Options {
  uint64_t seed = 1;
  uint64_t sequences = 0;  // 0: the mode's default
  bool precise_flags = false;  // xlat keeps dead flags exact at faults: compare them at #PF and #GP too
  bool long_run = false;
  std::string form;
  bool selfcheck = false;
  bool native_only = false;
  bool have_seq_seed = false;
  uint64_t seq_seed = 0;
  int items = -1;
  int max_reports = 5;   // full reports, one per distinct culprit form
  int max_bisect = 2000;  // failures narrowed down to their culprit item
  int min_forms = 500;
  bool list_forms = false;
  double timeout_s = 30;
  std::string argv0;
};

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(stderr,
               "%s\nusage: xlat_difftest [--seed S] [--sequences N] [--long] [--form NAME] [--seq-seed X]\n"
               "                     [--items N] [--max-reports K] [--max-bisect N] [--min-forms N]\n"
               "                     [--timeout SECONDS]\n"
               "                     [--selfcheck] [--native-only] [--list-forms] [--precise-flags]\n",
               msg);
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  o.argv0 = argv[0];
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    auto number = [&]() { return std::strtoull(value().c_str(), nullptr, 0); };
    if (a == "--seed") o.seed = number();
    else if (a == "--sequences") o.sequences = number();
    else if (a == "--long") o.long_run = true;
    else if (a == "--form") o.form = value();
    else if (a == "--selfcheck") o.selfcheck = true;
    else if (a == "--native-only") o.native_only = true;
    else if (a == "--seq-seed") o.have_seq_seed = true, o.seq_seed = number();
    else if (a == "--items") o.items = static_cast<int>(number());
    else if (a == "--max-reports") o.max_reports = static_cast<int>(number());
    else if (a == "--max-bisect") o.max_bisect = static_cast<int>(number());
    else if (a == "--min-forms") o.min_forms = static_cast<int>(number());
    else if (a == "--timeout") o.timeout_s = std::strtod(value().c_str(), nullptr);
    else if (a == "--list-forms") o.list_forms = true;
    else if (a == "--precise-flags") o.precise_flags = true;
    else if (a == "--help" || a == "-h") Usage("");
    else Usage(("unknown option " + a).c_str());
  }
  return o;
}

// ---- watchdog: a guest that never reaches its hlt must not hang ctest ----

struct Watchdog {
  std::atomic<uint64_t> progress{0};
  std::atomic<int> phase{0};  // 0 idle, 1 native, 2 guest
  std::atomic<uint64_t> seq_seed{0};
  std::atomic<bool> quit{false};
  GuestRunner* guest = nullptr;
  double timeout_s = 30;
  std::thread thread;

  void Start() {
    thread = std::thread([this] {
      uint64_t last = progress.load();
      auto since = std::chrono::steady_clock::now();
      bool stop_sent = false;
      while (!quit.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const uint64_t p = progress.load();
        const auto now = std::chrono::steady_clock::now();
        if (p != last) {
          last = p;
          since = now;
          stop_sent = false;
          continue;
        }
        const double idle = std::chrono::duration<double>(now - since).count();
        if (phase.load() == 2 && idle > timeout_s && !stop_sent && guest) {
          std::fprintf(stderr, "watchdog: guest run of sequence %#" PRIx64 " exceeded %.0fs, requesting stop\n",
                       seq_seed.load(), timeout_s);
          guest->RequestStop();
          stop_sent = true;
        }
        if (idle > timeout_s + 15) {
          std::fprintf(stderr, "watchdog: %s run of sequence %#" PRIx64 " is stuck; aborting\n",
                       phase.load() == 2 ? "guest" : "native", seq_seed.load());
          std::fflush(stderr);
          _exit(3);
        }
      }
    });
  }
  void Stop() {
    quit = true;
    if (thread.joinable()) thread.join();
  }
};

// ---- a VMM that aborts still says which sequence it was running ----

std::atomic<uint64_t> g_current_seed{0};
std::atomic<int> g_in_guest{0};

void OnAbort(int sig) {
  if (g_in_guest.load()) {
    char msg[] = "\nxlat_difftest: aborted while the guest ran sequence --seq-seed 0x0000000000000000\n";
    const uint64_t v = g_current_seed.load();
    char* p = std::strstr(msg, "0x") + 2;
    for (int i = 0; i < 16; i++) p[i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

// ---- one comparison ----

struct Outcome {
  bool ok = true;
  std::string diffs;  // formatted differences
  CpuState native, guest;
};

// The native run used in place of a guest (--native-only).
class NativeAsGuest final : public GuestRunner {
 public:
  explicit NativeAsGuest(NativeRunner& n) : n_(n) {}
  bool Run(const Sequence& s, CpuState* out, std::vector<uint8_t>* data, std::vector<uint8_t>* low,
           std::string*) override {
    n_.Run(s, out);
    data->assign(n_.data(), n_.data() + kDataBytes);
    low->assign(n_.low(), n_.low() + kLowBytes);
    return true;
  }
  void RequestStop() override {}

 private:
  NativeRunner& n_;
};

class Tester {
 public:
  Tester(const Options& o, NativeRunner& native, GuestRunner& guest, Watchdog& wd)
      : opt_(o), native_(native), guest_(guest), wd_(wd) {}

  bool Generate(uint64_t seq_seed, int exact_items, Sequence* s, GenStats* stats, std::string* error) {
    GenOptions go;
    go.enabled = enabled_.empty() ? nullptr : &enabled_;
    go.exact_items = exact_items;
    if (opt_.items > 0) go.min_items = go.max_items = opt_.items;
    return GenerateSequence(seq_seed, go, s, stats, error);
  }

  void Compare(const Sequence& s, Outcome* out) {
    wd_.seq_seed = s.seed;
    wd_.phase = 1;
    native_.Run(s, &out->native);
    ndata_.assign(native_.data(), native_.data() + kDataBytes);
    nlow_.assign(native_.low(), native_.low() + kLowBytes);
    wd_.phase = 2;
    g_current_seed = s.seed;
    g_in_guest = 1;
    std::string note;
    const bool ran = guest_.Run(s, &out->guest, &gdata_, &glow_, &note);
    g_in_guest = 0;
    wd_.phase = 0;
    wd_.progress++;
    std::vector<std::string> d;
    if (!ran) d.push_back("guest run did not complete: " + note);
    auto add = [&](const std::vector<std::string>& v) { d.insert(d.end(), v.begin(), v.end()); };
    if (ran) add(CompareStates(out->native, out->guest, out->native.vector == kNoFault, !opt_.precise_flags));
    add(CompareBytes(ndata_.data(), gdata_.data(), kDataBytes, kDataVa, 6));
    add(CompareBytes(nlow_.data(), glow_.data(), kLowBytes, kLowVa, 6));
    out->ok = d.empty();
    out->diffs.clear();
    for (auto& x : d) out->diffs += "  " + x + "\n";
  }

  // The smallest failing prefix (binary search; failures are assumed to
  // persist once an item has gone wrong).
  int Bisect(uint64_t seq_seed, int n) {
    int lo = 1, hi = n;  // hi fails
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      Sequence s;
      std::string err;
      Outcome o;
      if (!Generate(seq_seed, mid, &s, nullptr, &err)) return n;
      Compare(s, &o);
      if (o.ok) lo = mid + 1;
      else hi = mid;
    }
    return hi;
  }

  std::string Repro(uint64_t seq_seed, int items) const {
    char b[512];
    std::snprintf(b, sizeof b, "%s --seq-seed %#" PRIx64 "%s%s%s%s", opt_.argv0.c_str(), seq_seed,
                  items > 0 ? (" --items " + std::to_string(items)).c_str() : "",
                  opt_.form.empty() ? "" : " --form '", opt_.form.c_str(), opt_.form.empty() ? "" : "'");
    return b;
  }

  // Narrows a failing sequence down to its smallest failing prefix; the
  // prefix's last item is the culprit. Prints a full report the first time
  // a culprit form is seen (up to --max-reports reports).
  void Analyze(uint64_t run_index, const Sequence& s, const Outcome& o, bool bisect) {
    const auto& forms = AllForms();
    Sequence m;
    Outcome mo;
    bool minimal = false;
    int k = static_cast<int>(s.items.size());
    if (bisect && opt_.items <= 0 && k > 1) {
      k = Bisect(s.seed, k);
      std::string err;
      if (k < static_cast<int>(s.items.size()) && Generate(s.seed, k, &m, nullptr, &err)) {
        Compare(m, &mo);
        minimal = !mo.ok;
      }
    }
    const Sequence& r = minimal ? m : s;
    const Outcome& ro = minimal ? mo : o;
    std::string culprit = r.items.empty() ? std::string("(empty)") : forms[r.items.back().form].name;
    if (!bisect) culprit += " (or earlier; not bisected)";
    // A native fault before the last item: the items after it never run,
    // yet they change the outcome (e.g. state at the fault that the
    // translator considered dead because a later instruction overwrites it).
    int fault_item = -1;
    if (ro.native.vector != kNoFault) {
      for (size_t i = 0; i < r.items.size(); i++)
        if (ro.native.rip >= r.entry + r.items[i].begin && ro.native.rip < r.entry + r.items[i].end)
          fault_item = static_cast<int>(i);
    }
    const bool after_fault = fault_item >= 0 && fault_item + 1 < static_cast<int>(r.items.size());
    if (after_fault) {
      culprit = "state at a fault in \"" + forms[r.items[fault_item].form].name +
                "\" depends on the (never executed) items after it";
    }
    const bool first = culprits_[culprit]++ == 0;
    if (!first || reports_ >= opt_.max_reports) return;
    reports_++;
    std::printf("\n==== MISMATCH in sequence %" PRIu64 " (seed %#" PRIx64 ", %zu items)\n", run_index, s.seed,
                s.items.size());
    if (minimal)
      std::printf("-- smallest failing prefix: %d items; the last one is \"%s\"\n", k,
                  forms[r.items.back().form].name.c_str());
    if (fault_item >= 0)
      std::printf("-- the native run ends with exception %d in item %d (\"%s\")%s\n", ro.native.vector, fault_item,
                  forms[r.items[fault_item].form].name.c_str(),
                  after_fault ? "; the items after it never execute natively" : "");
    std::printf("%s", ro.diffs.c_str());
    PrintSequence(r, ro);
    std::printf("-- reproduce: %s\n", Repro(s.seed, minimal ? k : -1).c_str());
  }

  void PrintSequence(const Sequence& s, const Outcome& o) {
    const bool xlat_elsewhere = o.guest.rip != o.native.rip && o.guest.rip != o.native.rip + 1;
    std::printf("-- sequence (>> marks where the native run stopped: %s%s)\n",
                o.native.vector == kNoFault ? "the end" : "a fault",
                xlat_elsewhere ? "; !! where the xlat run stopped" : "");
    std::printf("%s", DisassembleSequence(s, o.native.rip, xlat_elsewhere ? o.guest.rip : 0).c_str());
    std::printf("-- initial state\n%s", FormatState(s.init).c_str());
    std::printf("-- native final state\n%s", FormatState(o.native).c_str());
    std::printf("-- xlat final state\n%s", FormatState(o.guest).c_str());
  }

  std::vector<char> enabled_;
  std::map<std::string, int> culprits_;
  int reports_ = 0;

 private:
  const Options& opt_;
  NativeRunner& native_;
  GuestRunner& guest_;
  Watchdog& wd_;
  std::vector<uint8_t> ndata_, nlow_, gdata_, glow_;
};

int FindForm(const std::string& name) {
  const auto& forms = AllForms();
  for (size_t i = 0; i < forms.size(); i++)
    if (forms[i].name == name) return static_cast<int>(i);
  return -1;
}

int CountUsed(const GenStats& st) {
  int used = 0;
  for (uint64_t c : st.per_form) used += c != 0;
  return used;
}

int Main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  const auto& forms = AllForms();
  if (o.list_forms) {
    for (const Form& f : forms) std::printf("%-8s %s\n", CatName(f.cat), f.name.c_str());
    std::printf("%zu forms\n", forms.size());
    return 0;
  }
  NativeRunner native;
  std::string err;
  if (!native.Init(&err)) {
    std::fprintf(stderr, "xlat_difftest: %s\n", err.c_str());
    return 2;
  }
  if (o.selfcheck) return SelfCheck(o.seed, o.sequences ? o.sequences : 3000, o.min_forms, native);

  std::unique_ptr<GuestRunner> guest;
  if (o.native_only) {
    guest = std::make_unique<NativeAsGuest>(native);
  } else {
    guest = MakeXlatRunner(&err, o.precise_flags);
    if (!guest) {
      std::fprintf(stderr, "xlat_difftest: cannot create the xlat guest: %s\n", err.c_str());
      return 2;
    }
  }
  signal(SIGABRT, OnAbort);
  Watchdog wd;
  wd.guest = guest.get();
  wd.timeout_s = o.timeout_s;
  wd.Start();
  Tester t(o, native, *guest, wd);
  if (!o.form.empty()) {
    const int i = FindForm(o.form);
    if (i < 0) {
      std::fprintf(stderr, "xlat_difftest: no form named \"%s\" (see --list-forms)\n", o.form.c_str());
      wd.Stop();
      return 2;
    }
    t.enabled_.assign(forms.size(), 0);
    t.enabled_[static_cast<size_t>(i)] = 1;
  }

  uint64_t n = o.sequences ? o.sequences : 25000;
  if (o.long_run) n *= 10;
  if (o.have_seq_seed) n = 1;
  GenStats st;
  uint64_t failures = 0;
  std::map<int, uint64_t> ends;
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < n; i++) {
    const uint64_t seq_seed = o.have_seq_seed ? o.seq_seed : SequenceSeed(o.seed, i);
    Sequence s;
    if (!t.Generate(seq_seed, -1, &s, &st, &err)) {
      std::printf("generation error (seed %#" PRIx64 "): %s\n", seq_seed, err.c_str());
      failures++;
      continue;
    }
    Outcome out;
    t.Compare(s, &out);
    ends[out.native.vector]++;
    if (!out.ok) {
      failures++;
      t.Analyze(i, s, out, failures <= static_cast<uint64_t>(o.max_bisect));
    }
  }
  wd.Stop();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\n");
  PrintCoverage(st, n);
  std::printf("endings (native):");
  for (auto& [v, c] : ends)
    std::printf(" %s=%" PRIu64, v == kNoFault ? "end" : ("vector" + std::to_string(v)).c_str(), c);
  std::printf("\n");
  if (!t.culprits_.empty()) {
    std::vector<std::pair<int, std::string>> sorted;
    for (auto& [name, c] : t.culprits_) sorted.push_back({-c, name});
    std::sort(sorted.begin(), sorted.end());
    std::printf("failing forms (last item of the smallest failing prefix), most frequent first:\n");
    for (auto& [c, name] : sorted) std::printf("  %5d  %s\n", -c, name.c_str());
  }
  std::printf("%s: %" PRIu64 " sequences (seed %" PRIu64 "), %" PRIu64 " mismatches, %.1fs\n",
              o.native_only ? "native-vs-native" : "native-vs-xlat", n, o.seed, failures, secs);
  int rc = failures ? 1 : 0;
  if (o.form.empty() && !o.have_seq_seed && n >= 2000 && CountUsed(st) < o.min_forms) {
    std::printf("FAIL: only %d forms exercised (need %d)\n", CountUsed(st), o.min_forms);
    rc = 1;
  }
  return rc;
}

}  // namespace
}  // namespace difftest

int main(int argc, char** argv) { return difftest::Main(argc, argv); }
