// sort.c — introsort (quicksort with median-of-three, insertion sort for
// short runs, heapsort when recursion gets too deep) of 16 million 64-bit
// keys: unpredictable branches, swaps, and recursion.
#include "common.h"

#define COUNT (16u << 20)
static uint64_t keys[COUNT];

static void InsertionSort(uint64_t* a, int64_t n) {
  for (int64_t i = 1; i < n; i++) {
    uint64_t v = a[i];
    int64_t j = i - 1;
    while (j >= 0 && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

static void SiftDown(uint64_t* a, int64_t root, int64_t n) {
  uint64_t v = a[root];
  for (;;) {
    int64_t child = 2 * root + 1;
    if (child >= n) break;
    if (child + 1 < n && a[child + 1] > a[child]) child++;
    if (a[child] <= v) break;
    a[root] = a[child];
    root = child;
  }
  a[root] = v;
}

static void HeapSort(uint64_t* a, int64_t n) {
  for (int64_t i = n / 2 - 1; i >= 0; i--) SiftDown(a, i, n);
  for (int64_t i = n - 1; i > 0; i--) {
    uint64_t t = a[0];
    a[0] = a[i];
    a[i] = t;
    SiftDown(a, 0, i);
  }
}

static inline void Swap(uint64_t* x, uint64_t* y) {
  uint64_t t = *x;
  *x = *y;
  *y = t;
}

static NOINLINE void IntroSort(uint64_t* a, int64_t n, int depth) {
  while (n > 24) {
    if (depth-- == 0) {
      HeapSort(a, n);
      return;
    }
    // Median of three into a[0], then Hoare partition.
    int64_t mid = n / 2;
    if (a[mid] < a[0]) Swap(&a[mid], &a[0]);
    if (a[n - 1] < a[0]) Swap(&a[n - 1], &a[0]);
    if (a[n - 1] < a[mid]) Swap(&a[n - 1], &a[mid]);
    uint64_t pivot = a[mid];
    int64_t i = -1, j = n;
    for (;;) {
      do i++; while (a[i] < pivot);
      do j--; while (a[j] > pivot);
      if (i >= j) break;
      Swap(&a[i], &a[j]);
    }
    // Recurse into the smaller side, loop on the larger.
    int64_t left = j + 1;
    if (left < n - left) {
      IntroSort(a, left, depth);
      a += left;
      n -= left;
    } else {
      IntroSort(a + left, n - left, depth);
      n = left;
    }
  }
  InsertionSort(a, n);
}

int main(void) {
  uint64_t state = 2718281828;
  uint64_t sum_before = 0;
  for (uint32_t i = 0; i < COUNT; i++) {
    // A quarter of the keys repeat a small set: duplicates exercise the partition.
    uint64_t r = SplitMix(&state);
    keys[i] = (i & 3) == 0 ? r % 1000 : r;
    sum_before += keys[i];
  }
  IntroSort(keys, COUNT, 2 * 64);
  uint64_t sum_after = 0, h = 0;
  int sorted = 1;
  for (uint32_t i = 0; i < COUNT; i++) {
    sum_after += keys[i];
    if (i && keys[i - 1] > keys[i]) sorted = 0;
    if ((i & 1023) == 0) h = MixIn(h, keys[i]);
  }
  guest_printf("sort-16M-u64: sorted=%d sum-kept=%d sample-hash=%016lx\n", sorted, sum_before == sum_after, h);
  return sorted && sum_before == sum_after ? 0 : 1;
}
