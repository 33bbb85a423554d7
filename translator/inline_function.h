// A callable kept inside the object, never on the heap.
//
// The emitters queue cold code and re-emit native access sequences as
// closures; a block makes dozens of them, and std::function allocates each
// one whose captures exceed two pointers. InlineFunction stores the closure
// in a fixed buffer instead: a closure that does not fit is a compile error,
// not a silent allocation.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace xlat {

template <typename Signature, size_t Capacity>
class InlineFunction;

template <typename R, typename... Args, size_t Capacity>
class InlineFunction<R(Args...), Capacity> {
 public:
  InlineFunction() = default;

  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, InlineFunction>>>
  InlineFunction(F&& f) {  // NOLINT(google-explicit-constructor): stands in for a lambda
    using Fn = std::decay_t<F>;
    static_assert(sizeof(Fn) <= Capacity, "closure too large for this InlineFunction: raise its capacity");
    static_assert(alignof(Fn) <= alignof(std::max_align_t), "closure over-aligned");
    new (storage_) Fn(std::forward<F>(f));
    ops_ = &kOpsFor<Fn>;
  }

  InlineFunction(const InlineFunction& other) : ops_(other.ops_) {
    if (ops_) ops_->copy(storage_, other.storage_);
  }
  InlineFunction(InlineFunction&& other) noexcept : ops_(other.ops_) {
    if (ops_) ops_->move(storage_, other.storage_);
  }
  InlineFunction& operator=(const InlineFunction& other) {
    if (this != &other) {
      Reset();
      ops_ = other.ops_;
      if (ops_) ops_->copy(storage_, other.storage_);
    }
    return *this;
  }
  InlineFunction& operator=(InlineFunction&& other) noexcept {
    if (this != &other) {
      Reset();
      ops_ = other.ops_;
      if (ops_) ops_->move(storage_, other.storage_);
    }
    return *this;
  }
  ~InlineFunction() { Reset(); }

  R operator()(Args... args) const { return ops_->call(storage_, std::forward<Args>(args)...); }
  explicit operator bool() const { return ops_ != nullptr; }

 private:
  struct Ops {
    R (*call)(const void*, Args&&...);
    void (*copy)(void* dst, const void* src);
    void (*move)(void* dst, void* src);
    void (*destroy)(void*);
  };
  template <typename Fn>
  static constexpr Ops kOpsFor = {
      [](const void* p, Args&&... args) -> R {
        return (*static_cast<Fn*>(const_cast<void*>(p)))(std::forward<Args>(args)...);
      },
      [](void* dst, const void* src) { new (dst) Fn(*static_cast<const Fn*>(src)); },
      [](void* dst, void* src) { new (dst) Fn(std::move(*static_cast<Fn*>(src))); },
      [](void* p) { static_cast<Fn*>(p)->~Fn(); },
  };

  void Reset() {
    if (ops_) ops_->destroy(storage_);
    ops_ = nullptr;
  }

  alignas(std::max_align_t) mutable unsigned char storage_[Capacity];
  const Ops* ops_ = nullptr;
};

}  // namespace xlat
