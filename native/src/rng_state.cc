// Restoring a random generator's state (from a checkpoint), with the state checked first.
//
// libtorch's set_state trusts the bytes it is given: the CPU generator's mt19937 position (`left`,
// `next`) is only range-checked one field at a time, and a state whose position runs past the end of the
// 624-word table is accepted; the generator then reads beyond its state on every draw. A damaged or
// hostile checkpoint must not get that far, so the state is checked here, field by field, against the
// layout libtorch writes, and refused with an "invalid RNG state" error otherwise.
#include <ATen/Context.h>
#include <ATen/core/Generator.h>
#include <ATen/core/MT19937RNGEngine.h>

#include <cstring>
#include <mutex>

#include "common.h"

namespace byol {
namespace {

// The CPU generator's state as libtorch serialises it (CPUGeneratorImplState, in CPUGeneratorImpl.cpp;
// the same in 1.13 and 2.x): the legacy THGeneratorState followed by the float normal-sample cache.
struct LegacyCpuState {
  uint64_t the_initial_seed;
  int32_t left;    // draws left before the table is regenerated, 1..624
  int32_t seeded;  // always 1 for a state libtorch wrote
  uint64_t next;   // index of the next word of the table, 0..624
  uint64_t state[at::MERSENNE_STATE_N];
  double normal_x;
  double normal_y;
  double normal_rho;
  int32_t normal_is_valid;
};
struct CpuState {
  LegacyCpuState legacy;
  float next_float_normal_sample;
  uint8_t is_next_float_normal_sample_valid;  // a bool: 0 or 1
};
static_assert(sizeof(CpuState) == 5056, "the CPU generator state layout libtorch writes is 5056 bytes");
static_assert(offsetof(LegacyCpuState, next) == 16 && offsetof(CpuState, next_float_normal_sample) == 5048,
              "CPU generator state field offsets");

[[noreturn]] void invalid(const std::string& why) { throw JsError("invalid RNG state: " + why); }

void check_cpu_state(const CpuState& s) {
  const LegacyCpuState& p = s.legacy;
  const int64_t n = at::MERSENNE_STATE_N;
  if (p.seeded != 1) invalid("the generator is not marked as seeded (seeded = " + std::to_string(p.seeded) + ")");
  if (p.left < 1 || p.left > n) invalid("mt19937 'left' is " + std::to_string(p.left) + ", outside 1.." + std::to_string(n));
  if (p.next > static_cast<uint64_t>(n)) invalid("mt19937 'next' is " + std::to_string(p.next) + ", outside 0.." + std::to_string(n));
  // The generator reads words next, next+1, ... for left-1 draws before it regenerates the table, so
  // next + left - 1 must stay within it: left + next = 625 in every state mt19937 passes through
  // (or 1 + 0 right after seeding).
  if (p.left + static_cast<int64_t>(p.next) > n + 1) {
    invalid("mt19937 position left = " + std::to_string(p.left) + ", next = " + std::to_string(p.next) + " reads past the " +
            std::to_string(n) + "-word state");
  }
  if (p.normal_is_valid != 0 && p.normal_is_valid != 1) invalid("the cached normal sample flag is " + std::to_string(p.normal_is_valid));
  if (s.is_next_float_normal_sample_valid > 1) {
    invalid("the cached float normal sample flag is " + std::to_string(s.is_next_float_normal_sample_valid));
  }
}

// setRngState(device, state): the device's default generator takes the state, once it has been checked.
BYOL_FN(SetRngState) {
  return guarded(env, "setRngState", [&] {
    auto a = args_of(env, info, 2, "setRngState");
    std::string device = to_string(env, a[0], "device");
    at::Tensor state = to_tensor(env, a[1], "state");
    if (state.layout() != at::kStrided || state.device().type() != at::kCPU || state.scalar_type() != at::kByte) {
      invalid("expected a CPU uint8 tensor, got " + std::string(c10::toString(state.scalar_type())) + " on " + state.device().str());
    }
    if (!state.is_contiguous()) invalid("the state tensor is not contiguous");
    at::Generator gen = at::globalContext().defaultGenerator(c10::Device(device));
    std::lock_guard<std::mutex> lock(gen.mutex());
    // The size this libtorch's generator writes for this device (16 bytes of seed and offset for CUDA).
    const int64_t expected = gen.get_state().numel();
    if (state.numel() != expected) {
      invalid(std::to_string(state.numel()) + " bytes, but this libtorch's " + device + " generator state has " + std::to_string(expected));
    }
    if (gen.device().type() == at::kCPU) {
      if (expected != static_cast<int64_t>(sizeof(CpuState))) {
        invalid("this libtorch's CPU generator state has " + std::to_string(expected) + " bytes; only the " +
                std::to_string(sizeof(CpuState)) + "-byte layout can be checked");
      }
      CpuState s;
      std::memcpy(&s, state.data_ptr(), sizeof s);
      check_cpu_state(s);
    }
    gen.set_state(state);
    return undefined(env);
  });
}

}  // namespace

void init_rng_state(napi_env env, napi_value exports) { register_exports(env, exports, {{"setRngState", SetRngState}}); }

}  // namespace byol
