// torch.distributed (c10d): a TCPStore rendezvous, Gloo and NCCL process groups, and the collectives
// data-parallel training needs (all-reduce, all-gather, broadcast, barrier), plus an all-reduce that
// autograd can differentiate through (for cross-replica BatchNorm written in TypeScript).
//
// Process groups are integer handles into a table, as tensors are. Every collective blocks the calling
// (JavaScript) thread until it completes, fails or times out: training is synchronous, and a blocking
// call turns a dead or stalled peer into one JavaScript error instead of a hang.
#define BYOL_WANT_C10D 1
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include "common.h"
#include "compat.h"

namespace byol {
namespace {

struct Group {
  c10::intrusive_ptr<c10d::Store> store;  // rank 0 hosts the server; NCCL keeps using it after init
  c10::intrusive_ptr<C10dGroup> pg;
  int rank = 0;
  int size = 1;
  std::string backend;
  std::chrono::milliseconds timeout{0};
  // Set by the first failed collective. A failed group is never used again (its peers are gone or out
  // of step) and is never destroyed either: Gloo's destructor joins worker threads that may still sit in
  // the failed operation, and exiting quickly matters more than freeing it.
  bool failed = false;
  std::string failure;
  // Reused flat buffers for multi-tensor collectives, one per dtype and device.
  std::map<std::string, at::Tensor> scratch;
};

// Deliberately leaked: static destruction at process exit must not join collective threads.
std::vector<std::unique_ptr<Group>>& groups() {
  static auto* table = new std::vector<std::unique_ptr<Group>>();
  return *table;
}

Group& group_at(int64_t id) {
  auto& t = groups();
  if (id < 0 || static_cast<size_t>(id) >= t.size() || !t[id]) {
    throw JsError("process group " + std::to_string(id) + " does not exist (was it destroyed?)");
  }
  Group& g = *t[id];
  if (g.failed) throw JsError("process group " + std::to_string(id) + " failed earlier and cannot be used: " + g.failure);
  return g;
}

std::string error_text(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const c10::Error& err) {
    return err.what_without_backtrace();
  } catch (const std::exception& err) {
    return err.what();
  } catch (...) {
    return "unknown error";
  }
}

std::string first_line(std::string msg) {
  auto nl = msg.find('\n');
  return nl == std::string::npos ? msg : msg.substr(0, nl);
}

// Runs one collective: issues it, waits for it with the group's timeout, and turns any failure into a
// single-line JsError naming the operation, the rank and the likely cause. The group is marked failed.
template <typename F>
void run_collective(Group& g, const char* what, F&& issue) {
  try {
    c10::intrusive_ptr<c10d::Work> work = issue();
    // Gloo: block this thread until done, or throw after the timeout. NCCL: make the current CUDA stream
    // wait (a timeout here would turn every collective into a host synchronisation); NCCL's watchdog
    // enforces the group's timeout instead, ending the process with an error.
    if (work) {
      if (g.backend == "nccl") work->wait();
      else work->wait(g.timeout);
    }
  } catch (...) {
    // c10d messages can carry several lines (and a C++ backtrace); the first line says what happened.
    std::string msg = first_line(error_text(std::current_exception()));
    g.failed = true;
    std::string where = " on rank " + std::to_string(g.rank) + " of " + std::to_string(g.size) + " (" + g.backend + ")";
    bool timed_out = msg.find("timed out") != std::string::npos || msg.find("Timed out") != std::string::npos ||
                     msg.find("Timeout") != std::string::npos;
    g.failure = timed_out ? std::string(what) + where + " timed out after " + std::to_string(g.timeout.count()) +
                                " ms (" + msg + "); another process probably stalled or exited"
                          : std::string(what) + " failed" + where + ": " + msg + "; another process probably exited or stalled";
    throw JsError(g.failure);
  }
}

c10d::ReduceOp reduce_op(const std::string& name) {
  if (name == "sum" || name == "avg") return c10d::ReduceOp::SUM;  // avg = sum, then divide (Gloo has no AVG)
  if (name == "max") return c10d::ReduceOp::MAX;
  if (name == "min") return c10d::ReduceOp::MIN;
  if (name == "product") return c10d::ReduceOp::PRODUCT;
  throw JsError("unknown reduce op '" + name + "' (use sum, avg, max, min or product)");
}

// All-reduces one contiguous tensor in place.
void all_reduce_one(Group& g, at::Tensor& t, c10d::ReduceOp op, const char* what) {
  std::vector<at::Tensor> v{t};
  c10d::AllreduceOptions o;
  o.reduceOp = op;
  o.timeout = g.timeout;
  run_collective(g, what, [&] { return g.pg->allreduce(v, o); });
}

void broadcast_one(Group& g, at::Tensor& t, int64_t root, const char* what) {
  std::vector<at::Tensor> v{t};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  o.rootTensor = 0;
  o.timeout = g.timeout;
  run_collective(g, what, [&] { return g.pg->broadcast(v, o); });
}

// c10d's tensor-list arguments mean "one replica per device", not "several tensors". Several tensors
// therefore travel as one flat buffer per (dtype, device): one collective instead of many (the bucketing
// DistributedDataParallel does), and the same grouping on every rank because it only depends on the
// list, which every rank passes in the same order. The flat buffers persist in the group and are reused:
// a fresh gradient-sized allocation every step costs more in page faults than the collective itself.
at::Tensor scratch(Group& g, const at::Tensor& like, int64_t numel) {
  std::string key = std::to_string(static_cast<int>(like.scalar_type())) + "@" + like.device().str();
  at::Tensor& buf = g.scratch[key];
  if (!buf.defined() || buf.numel() < numel) buf = at::empty({numel}, like.options().requires_grad(false));
  return buf.narrow(0, 0, numel);
}

template <typename F>
void bucketed(Group& g, std::vector<at::Tensor>& ts, bool fill, F&& per_bucket) {
  std::vector<bool> done(ts.size(), false);
  for (size_t i = 0; i < ts.size(); ++i) {
    if (done[i]) continue;
    std::vector<size_t> members;
    int64_t total = 0;
    for (size_t j = i; j < ts.size(); ++j) {
      if (!done[j] && ts[j].scalar_type() == ts[i].scalar_type() && ts[j].device() == ts[i].device()) {
        members.push_back(j);
        total += ts[j].numel();
        done[j] = true;
      }
    }
    if (members.size() == 1 && ts[i].is_contiguous()) {
      per_bucket(ts[i]);
      continue;
    }
    at::Tensor buffer = scratch(g, ts[i], total);
    int64_t offset = 0;
    if (fill) {
      for (size_t j : members) {
        int64_t n = ts[j].numel();
        buffer.narrow(0, offset, n).view(ts[j].sizes()).copy_(ts[j]);
        offset += n;
      }
    }
    per_bucket(buffer);
    offset = 0;
    for (size_t j : members) {
      int64_t n = ts[j].numel();
      ts[j].copy_(buffer.narrow(0, offset, n).view(ts[j].sizes()));
      offset += n;
    }
  }
}

napi_value property(napi_env env, napi_value obj, const char* name) {
  napi_value v;
  check(env, napi_get_named_property(env, obj, name, &v), name);
  return v;
}

// An int argument that must fit an int (rank, world size) before it is narrowed.
int to_int32_in(napi_env env, napi_value v, const char* what, int64_t lo, int64_t hi) {
  int64_t x = to_int64(env, v, what);
  if (x < lo || x > hi) throw JsError(std::string(what) + " " + std::to_string(x) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(x);
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// distInit({rank, worldSize, masterAddr, masterPort, backend, timeoutMs}) -> group handle.
// Rank 0 runs the TCPStore server on masterPort; all ranks connect to it, and the constructor returns
// once every rank has joined (or throws when timeoutMs passes first).
BYOL_FN(DistInit) {
  return guarded(env, "distInit", [&] {
    auto a = args_of(env, info, 1, "distInit");
    if (type_of(env, a[0]) != napi_object) throw JsError("distInit: expected an options object");
    auto g = std::make_unique<Group>();
    g->rank = to_int32_in(env, property(env, a[0], "rank"), "rank", 0, INT32_MAX);
    g->size = to_int32_in(env, property(env, a[0], "worldSize"), "worldSize", 1, INT32_MAX);
    std::string addr = to_string(env, property(env, a[0], "masterAddr"), "masterAddr");
    int64_t port = to_int64(env, property(env, a[0], "masterPort"), "masterPort");
    g->backend = to_string(env, property(env, a[0], "backend"), "backend");
    int64_t timeout_ms = to_int64(env, property(env, a[0], "timeoutMs"), "timeoutMs");
    if (g->size < 1) throw JsError("worldSize must be at least 1");
    if (g->rank < 0 || g->rank >= g->size) throw JsError("rank " + std::to_string(g->rank) + " is outside [0, " + std::to_string(g->size) + ")");
    if (port < 1 || port > 65535) throw JsError("masterPort must be in 1..65535");
    if (timeout_ms < 1) throw JsError("timeoutMs must be positive");
    g->timeout = std::chrono::milliseconds(timeout_ms);
    const std::string hint = "are all " + std::to_string(g->size) + " ranks started, with the same MASTER_ADDR and MASTER_PORT?";

    try {
      g->store = make_tcp_store(addr, static_cast<uint16_t>(port), g->rank == 0, static_cast<size_t>(g->size), g->timeout);
    } catch (...) {
      throw JsError("rendezvous at " + addr + ":" + std::to_string(port) + " failed on rank " + std::to_string(g->rank) + " of " +
                    std::to_string(g->size) + " within " + std::to_string(timeout_ms) + " ms (" + hint + "): " +
                    first_line(error_text(std::current_exception())));
    }
    try {
      if (g->backend == "gloo") {
#if BYOL_HAS_GLOO
        const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
        // On one machine (a loopback master) bind to loopback: the hostname may not resolve, or resolve
        // to an interface the peers cannot reach. Elsewhere this machine's hostname, as torchrun does.
        g->pg = make_gloo_group(g->store, g->rank, g->size, g->timeout, ifname ? ifname : "", is_loopback(addr) ? "127.0.0.1" : "");
#else
        throw JsError("this build of the addon has no Gloo backend (Gloo's headers were missing at build time; install libgloo-dev and rebuild)");
#endif
      } else if (g->backend == "nccl") {
#if BYOL_HAS_NCCL
        g->pg = make_nccl_group(g->store, g->rank, g->size, g->timeout);
#else
        throw JsError("this build of the addon has no NCCL backend (needs libtorch with CUDA, and nccl.h at build time)");
#endif
      } else {
        throw JsError("unknown backend '" + g->backend + "' (use gloo or nccl)");
      }
    } catch (const JsError&) {
      throw;
    } catch (...) {
      throw JsError("connecting the " + std::to_string(g->size) + " ranks (" + g->backend + ") failed on rank " + std::to_string(g->rank) +
                    " within " + std::to_string(timeout_ms) + " ms (" + hint + "): " + first_line(error_text(std::current_exception())));
    }
    auto& t = groups();
    t.push_back(std::move(g));
    return from_int64(env, static_cast<int64_t>(t.size() - 1));
  });
}

// distAllReduce(pg, tensors[], op): in place; "avg" divides the sum by the world size.
BYOL_FN(DistAllReduce) {
  return guarded(env, "distAllReduce", [&] {
    auto a = args_of(env, info, 3, "distAllReduce");
    // Every argument is read (getters in the list may run, and may even destroy the group) before the
    // group is looked up: no reference into the group table is held across JavaScript.
    int64_t id = to_int64(env, a[0], "group");
    std::vector<at::Tensor> ts = to_tensor_vector(env, a[1], "tensors");
    std::string name = to_string(env, a[2], "op");
    Group& g = group_at(id);
    c10d::ReduceOp op = reduce_op(name);
    bool avg = name == "avg";
    for (auto& t : ts) {
      if (avg && !at::isFloatingType(t.scalar_type())) throw JsError("distAllReduce: avg needs floating-point tensors");
    }
    at::NoGradGuard no_grad;  // an in-place collective on a leaf that requires grad is not a graph op
    bucketed(g, ts, true, [&](at::Tensor& b) {
      all_reduce_one(g, b, op, "all-reduce");
      if (avg) b.div_(g.size);
    });
    return undefined(env);
  });
}

// distAllGather(pg, tensor) -> [one tensor per rank], every rank's input having the same shape.
BYOL_FN(DistAllGather) {
  return guarded(env, "distAllGather", [&] {
    auto a = args_of(env, info, 2, "distAllGather");
    int64_t id = to_int64(env, a[0], "group");
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> in{to_tensor(env, a[1], "tensor").contiguous()};
    Group& g = group_at(id);
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < g.size; ++r) out[0].push_back(at::empty_like(in[0]));
    c10d::AllgatherOptions o;
    o.timeout = g.timeout;
    run_collective(g, "all-gather", [&] { return g.pg->allgather(out, in, o); });
    napi_value arr = new_array(env, out[0].size());
    for (size_t i = 0; i < out[0].size(); ++i) set_element(env, arr, static_cast<uint32_t>(i), from_tensor(env, out[0][i]));
    return arr;
  });
}

// distBroadcast(pg, tensors[], root): every rank's tensors receive root's values, in place.
BYOL_FN(DistBroadcast) {
  return guarded(env, "distBroadcast", [&] {
    auto a = args_of(env, info, 3, "distBroadcast");
    int64_t id = to_int64(env, a[0], "group");
    std::vector<at::Tensor> ts = to_tensor_vector(env, a[1], "tensors");
    int64_t root = to_int64(env, a[2], "root");
    Group& g = group_at(id);
    if (root < 0 || root >= g.size) throw JsError("distBroadcast: root " + std::to_string(root) + " is not a rank of this group");
    at::NoGradGuard no_grad;
    // Only the root's values matter: the others skip filling the buffer.
    bucketed(g, ts, g.rank == root, [&](at::Tensor& b) { broadcast_one(g, b, root, "broadcast"); });
    return undefined(env);
  });
}

BYOL_FN(DistBarrier) {
  return guarded(env, "distBarrier", [&] {
    auto a = args_of(env, info, 1, "distBarrier");
    Group& g = group_at(to_int64(env, a[0], "group"));
    c10d::BarrierOptions o;
    o.timeout = g.timeout;
    run_collective(g, "barrier", [&] { return g.pg->barrier(o); });
    return undefined(env);
  });
}

// distDestroy(pg): frees a healthy group (and, on rank 0, the store server); a failed one is abandoned.
BYOL_FN(DistDestroy) {
  return guarded(env, "distDestroy", [&] {
    auto a = args_of(env, info, 1, "distDestroy");
    int64_t id = to_int64(env, a[0], "group");
    auto& t = groups();
    if (id < 0 || static_cast<size_t>(id) >= t.size() || !t[id]) return undefined(env);  // already gone
    if (t[id]->failed) {
      t[id].release();  // leaked on purpose, see Group::failed
    } else {
      t[id]->pg.reset();
      t[id]->store.reset();
      t[id].reset();
    }
    return undefined(env);
  });
}

// distBackends() -> the backends this build can create.
BYOL_FN(DistBackends) {
  return guarded(env, "distBackends", [&] {
    std::vector<std::string> names;
#if BYOL_HAS_GLOO
    names.push_back("gloo");
#endif
#if BYOL_HAS_NCCL
    names.push_back("nccl");
#endif
    napi_value arr = new_array(env, names.size());
    for (size_t i = 0; i < names.size(); ++i) set_element(env, arr, static_cast<uint32_t>(i), from_string(env, names[i]));
    return arr;
  });
}

// ---- the differentiable all-reduce ------------------------------------------------------------------
// y = Σ_ranks x_r on every rank. Each rank's loss depends on its copy of y, so the gradient of the total
// loss with respect to x_r is Σ_ranks ∂L_s/∂y: backward all-reduces the incoming gradient. Every rank
// runs backward through the same graph, so the backward collectives line up in the same order.
struct AllReduceSum : public torch::autograd::Function<AllReduceSum> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t group) {
    ctx->saved_data["group"] = group;
    ctx->saved_data["sizes"] = x.sizes().vec();
    ctx->saved_data["like"] = at::empty({0}, x.options());
    at::Tensor y = x.clone(at::MemoryFormat::Contiguous);
    all_reduce_one(group_at(group), y, c10d::ReduceOp::SUM, "differentiable all-reduce");
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    int64_t group = ctx->saved_data["group"].toInt();
    // A rank whose output got no gradient must still take part, with zeros.
    at::Tensor g = grads[0].defined() ? grads[0].clone(at::MemoryFormat::Contiguous)
                                      : at::zeros(ctx->saved_data["sizes"].toIntVector(), ctx->saved_data["like"].toTensor().options());
    all_reduce_one(group_at(group), g, c10d::ReduceOp::SUM, "differentiable all-reduce (backward)");
    return {g, at::Tensor()};
  }
};

BYOL_FN(DistAllReduceDiff) {
  return guarded(env, "distAllReduceDiff", [&] {
    auto a = args_of(env, info, 2, "distAllReduceDiff");
    int64_t id = to_int64(env, a[0], "group");
    at::Tensor x = to_tensor(env, a[1], "tensor");
    group_at(id);  // fail early on a bad handle
    return from_tensor(env, AllReduceSum::apply(x, id));
  });
}

// ---- gradient buckets, all-reduced while backward runs ------------------------------------------------
// What DistributedDataParallel's Reducer does. The parameters are split, in backward order (the reverse
// of their order, as DDP assumes before it has seen a step), into buckets of at most cap bytes (the first
// one at most 1 MiB, so that communication starts early) of one dtype and device each. A hook after each
// parameter's gradient accumulation (autograd's AccumulateGrad node) copies the accumulated gradient into
// its bucket's flat buffer; once a bucket is full its all-reduce is issued without waiting, and Gloo's
// or NCCL's threads reduce it while the engine goes on with the earlier layers. Buckets are issued in
// index order on every rank, so the collectives line up. finish() issues what is left (buckets with a
// parameter that got no gradient, and always the last bucket, which also carries one "had a gradient"
// flag per parameter), waits for all, divides by the world size and copies the means back into the
// gradients: element for element the same arithmetic as distAllReduce's one flat buffer (a sum over the
// ranks, then one division), only in other buffers.
struct GradBucket {
  std::vector<size_t> members;  // parameter indices
  std::vector<int64_t> offsets;
  int64_t numel = 0;            // of the parameters (the last bucket's buffer also holds the flags)
  at::Tensor buffer;
  size_t pending = 0;
  c10::intrusive_ptr<c10d::Work> work;
};

struct Reducer {
  int64_t group = -1;
  std::vector<at::Tensor> params;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;  // kept alive: the hooks live on them
  std::vector<GradBucket> buckets;
  std::vector<size_t> bucket_of, slot_of;
  std::vector<char> got;
  size_t next = 0;  // the next bucket to issue
  bool armed = false;
  std::string error;  // the first failure inside a hook, reported by finish()
  std::mutex mu;

  void issue(size_t b) {
    GradBucket& k = buckets[b];
    try {
      Group& g = group_at(group);
      std::vector<at::Tensor> v{k.buffer};
      c10d::AllreduceOptions o;
      o.reduceOp = c10d::ReduceOp::SUM;
      o.timeout = g.timeout;
      k.work = g.pg->allreduce(v, o);
    } catch (...) {
      if (error.empty()) error = first_line(error_text(std::current_exception()));
    }
  }

  // Called by the hooks, on the autograd engine's thread.
  void on_grad(size_t i) {
    std::lock_guard<std::mutex> lock(mu);
    if (!armed || got[i]) return;
    const at::Tensor& grad = params[i].grad();
    if (!grad.defined()) return;
    got[i] = 1;
    GradBucket& k = buckets[bucket_of[i]];
    {
      at::NoGradGuard no_grad;
      k.buffer.narrow(0, k.offsets[slot_of[i]], grad.numel()).view(grad.sizes()).copy_(grad);
    }
    --k.pending;
    while (next + 1 < buckets.size() && buckets[next].pending == 0) issue(next++);
  }
};

std::vector<std::shared_ptr<Reducer>>& reducers() {
  static auto* table = new std::vector<std::shared_ptr<Reducer>>();
  return *table;
}

Reducer& reducer_at(int64_t id) {
  auto& t = reducers();
  if (id < 0 || static_cast<size_t>(id) >= t.size() || !t[id]) throw JsError("gradient buckets " + std::to_string(id) + " do not exist");
  return *t[id];
}

// distBucketsCreate(pg, params[], capBytes) -> handle
BYOL_FN(DistBucketsCreate) {
  return guarded(env, "distBucketsCreate", [&] {
    auto a = args_of(env, info, 3, "distBucketsCreate");
    int64_t id = to_int64(env, a[0], "group");
    std::vector<at::Tensor> ps = to_tensor_vector(env, a[1], "params");
    int64_t cap = to_int64(env, a[2], "capBytes");
    group_at(id);
    if (cap < 1) throw JsError("distBucketsCreate: capBytes must be positive");
    if (ps.empty()) throw JsError("distBucketsCreate: no parameters");
    auto r = std::make_shared<Reducer>();
    r->group = id;
    r->params = ps;
    r->bucket_of.resize(ps.size());
    r->slot_of.resize(ps.size());
    r->got.assign(ps.size(), 0);
    const int64_t first_cap = std::min<int64_t>(cap, int64_t(1) << 20);
    for (size_t j = ps.size(); j-- > 0;) {
      const at::Tensor& p = ps[j];
      if (!p.requires_grad() || !p.is_leaf()) throw JsError("distBucketsCreate: parameter " + std::to_string(j) + " is not a leaf that requires grad");
      if (!at::isFloatingType(p.scalar_type())) throw JsError("distBucketsCreate: parameters must be floating point");
      int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
      bool fresh = r->buckets.empty();
      if (!fresh) {
        GradBucket& last = r->buckets.back();
        const at::Tensor& q = ps[last.members[0]];
        int64_t limit = r->buckets.size() == 1 ? first_cap : cap;
        fresh = q.scalar_type() != p.scalar_type() || q.device() != p.device() ||
                (last.numel * static_cast<int64_t>(q.element_size()) + bytes > limit);
      }
      if (fresh) r->buckets.emplace_back();
      GradBucket& k = r->buckets.back();
      r->bucket_of[j] = r->buckets.size() - 1;
      r->slot_of[j] = k.members.size();
      k.members.push_back(j);
      k.offsets.push_back(k.numel);
      k.numel += p.numel();
    }
    for (size_t b = 0; b < r->buckets.size(); ++b) {
      GradBucket& k = r->buckets[b];
      int64_t n = k.numel + (b + 1 == r->buckets.size() ? static_cast<int64_t>(ps.size()) : 0);
      k.buffer = at::empty({n}, ps[k.members[0]].options().requires_grad(false));
    }
    std::weak_ptr<Reducer> weak = r;
    for (size_t j = 0; j < ps.size(); ++j) {
      auto acc = torch::autograd::impl::grad_accumulator(ps[j]);
      if (!acc) throw JsError("distBucketsCreate: parameter " + std::to_string(j) + " has no gradient accumulator");
      acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
          [weak, j](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
            if (auto s = weak.lock()) s->on_grad(j);
            return outputs;
          }));
      r->accumulators.push_back(std::move(acc));
    }
    auto& t = reducers();
    t.push_back(std::move(r));
    return from_int64(env, static_cast<int64_t>(t.size() - 1));
  });
}

// distBucketsSizes(h) -> the number of parameters in each bucket, in issue order (for tests and docs).
BYOL_FN(DistBucketsSizes) {
  return guarded(env, "distBucketsSizes", [&] {
    auto a = args_of(env, info, 1, "distBucketsSizes");
    Reducer& r = reducer_at(to_int64(env, a[0], "buckets"));
    napi_value arr = new_array(env, r.buckets.size());
    for (size_t b = 0; b < r.buckets.size(); ++b) set_element(env, arr, static_cast<uint32_t>(b), from_int64(env, static_cast<int64_t>(r.buckets[b].members.size())));
    return arr;
  });
}

// distBucketsPrepare(h): the next backward fills the buckets (call it just before backward).
BYOL_FN(DistBucketsPrepare) {
  return guarded(env, "distBucketsPrepare", [&] {
    auto a = args_of(env, info, 1, "distBucketsPrepare");
    Reducer& r = reducer_at(to_int64(env, a[0], "buckets"));
    group_at(r.group);
    std::lock_guard<std::mutex> lock(r.mu);
    if (r.armed) throw JsError("gradient buckets: the previous step's all-reduce was never finished");
    for (auto& k : r.buckets) {
      k.pending = k.members.size();
      k.work.reset();
    }
    std::fill(r.got.begin(), r.got.end(), 0);
    r.next = 0;
    r.error.clear();
    r.armed = true;
    return undefined(env);
  });
}

// distBucketsFinish(h): after backward: issues the remaining buckets, waits for all, and replaces each
// parameter's gradient by its mean over the ranks (a parameter without a gradient on every rank keeps none).
BYOL_FN(DistBucketsFinish) {
  return guarded(env, "distBucketsFinish", [&] {
    auto a = args_of(env, info, 1, "distBucketsFinish");
    Reducer& r = reducer_at(to_int64(env, a[0], "buckets"));
    Group& g = group_at(r.group);
    std::lock_guard<std::mutex> lock(r.mu);
    if (!r.armed) throw JsError("gradient buckets: finish() without prepare() before backward");
    r.armed = false;
    at::NoGradGuard no_grad;
    bool missing = false;
    for (size_t j = 0; j < r.params.size(); ++j) {
      if (r.got[j]) continue;
      missing = true;
      GradBucket& k = r.buckets[r.bucket_of[j]];
      k.buffer.narrow(0, k.offsets[r.slot_of[j]], r.params[j].numel()).zero_();
    }
    GradBucket& last = r.buckets.back();
    at::Tensor flags = last.buffer.narrow(0, last.numel, static_cast<int64_t>(r.params.size()));
    if (!missing) {
      flags.fill_(1);  // the usual case: a kernel, no host-to-device copy (which would wait for the GPU)
    } else {
      at::Tensor host = at::empty({static_cast<int64_t>(r.params.size())}, at::TensorOptions().dtype(at::kFloat));
      float* f = host.data_ptr<float>();
      for (size_t j = 0; j < r.params.size(); ++j) f[j] = r.got[j] ? 1.0f : 0.0f;
      flags.copy_(host, /*non_blocking=*/false);
    }
    while (r.next < r.buckets.size()) r.issue(r.next++);
    if (!r.error.empty()) {
      g.failed = true;
      g.failure = "gradient all-reduce failed on rank " + std::to_string(g.rank) + " of " + std::to_string(g.size) + " (" + g.backend + "): " + r.error;
      throw JsError(g.failure);
    }
    for (auto& k : r.buckets) {
      run_collective(g, "gradient all-reduce", [&] { return k.work; });
      k.work.reset();
      k.buffer.div_(g.size);
    }
    at::Tensor seen = missing ? flags.to(at::kCPU, at::kFloat) : at::Tensor();
    for (size_t j = 0; j < r.params.size(); ++j) {
      GradBucket& k = r.buckets[r.bucket_of[j]];
      at::Tensor& p = r.params[j];
      at::Tensor mean = k.buffer.narrow(0, k.offsets[r.slot_of[j]], p.numel()).view(p.sizes());
      if (r.got[j]) p.mutable_grad().copy_(mean);
      else if (seen.data_ptr<float>()[j] > 0) p.mutable_grad() = mean.clone();
    }
    return undefined(env);
  });
}

// distBucketsDestroy(h): removes the hooks' effect (they hold only a weak reference) and frees the buffers.
BYOL_FN(DistBucketsDestroy) {
  return guarded(env, "distBucketsDestroy", [&] {
    auto a = args_of(env, info, 1, "distBucketsDestroy");
    int64_t id = to_int64(env, a[0], "buckets");
    auto& t = reducers();
    if (id >= 0 && static_cast<size_t>(id) < t.size()) t[id].reset();
    return undefined(env);
  });
}

}  // namespace

void init_distributed(napi_env env, napi_value exports) {
  register_exports(env, exports,
                   {{"distInit", DistInit}, {"distAllReduce", DistAllReduce}, {"distAllGather", DistAllGather},
                    {"distBroadcast", DistBroadcast}, {"distBarrier", DistBarrier}, {"distDestroy", DistDestroy},
                    {"distBackends", DistBackends}, {"distAllReduceDiff", DistAllReduceDiff},
                    {"distBucketsCreate", DistBucketsCreate}, {"distBucketsSizes", DistBucketsSizes},
                    {"distBucketsPrepare", DistBucketsPrepare}, {"distBucketsFinish", DistBucketsFinish},
                    {"distBucketsDestroy", DistBucketsDestroy}});
}

}  // namespace byol
