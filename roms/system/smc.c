#include "ktest.h"
static const struct kcase cases[] = {{"none", 0}};
int main(void) { ktest_init(); return run_cases(cases, 0); }
