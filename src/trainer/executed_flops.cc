#include "trainer/executed_flops.h"

#include <string_view>

namespace flopsmeter {
namespace {

std::atomic<uint64_t> g_forward{0}, g_backward{0}, g_recompute{0}, g_products{0};
std::atomic<uint64_t> g_dispatched{0};
thread_local bool t_recomputing = false;

enum class Pass { kForward, kBackward };

// 64-bit counters suffice for one process (2^64 FLOP is 1.8e19, a CPU-year
// of this trainer many times over); they are widened on read.
void count(Pass pass, int64_t batch, int64_t m, int64_t k, int64_t n) {
  const uint64_t flop = 2 * static_cast<uint64_t>(batch) * static_cast<uint64_t>(m) * static_cast<uint64_t>(k) *
                        static_cast<uint64_t>(n);
  std::atomic<uint64_t>& counter =
      pass == Pass::kBackward ? g_backward : (t_recomputing ? g_recompute : g_forward);
  counter.fetch_add(flop, std::memory_order_relaxed);
  g_products.fetch_add(1, std::memory_order_relaxed);
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// a @ b as one kernel: aten::mm for matrices, aten::bmm for batches of them.
torch::Tensor product(const torch::Tensor& a, const torch::Tensor& b) {
  return a.dim() == 3 ? at::bmm(a, b) : at::mm(a, b);
}
int64_t batch_of(const torch::Tensor& a) { return a.dim() == 3 ? a.size(0) : 1; }

// The forward product and, in backward, the gradients autograd needs:
// d(a) = g @ b^T and d(b) = a^T @ g, each counted as it runs.
struct CountedProduct : torch::autograd::Function<CountedProduct> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& a, const torch::Tensor& b) {
    ctx->save_for_backward({a, b});
    count(Pass::kForward, batch_of(a), a.size(-2), a.size(-1), b.size(-1));
    return product(a, b);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& a = saved[0];
    const torch::Tensor& b = saved[1];
    const torch::Tensor& g = grads[0];
    torch::Tensor da, db;
    if (ctx->needs_input_grad(0)) {
      count(Pass::kBackward, batch_of(g), g.size(-2), g.size(-1), b.size(-2));
      da = product(g, b.transpose(-2, -1));
    }
    if (ctx->needs_input_grad(1)) {
      count(Pass::kBackward, batch_of(a), a.size(-1), a.size(-2), g.size(-1));
      db = product(a.transpose(-2, -1), g);
    }
    return {da, db};
  }
};

bool is_product_kernel(std::string_view name) {
  return name == "aten::mm" || name == "aten::bmm" || name == "aten::addmm" || name == "aten::baddbmm" ||
         name == "aten::addbmm" || name == "aten::mv" || name == "aten::dot" || name == "aten::addmv" ||
         name == "aten::_scaled_dot_product_attention" || name == "aten::conv1d" || name == "aten::einsum";
}

std::unique_ptr<at::ObserverContext> on_dispatch(const at::RecordFunction& fn) {
  if (is_product_kernel(fn.name())) g_dispatched.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

}  // namespace

ExecutedFlops executed_flops() {
  ExecutedFlops e;
  e.forward = g_forward.load();
  e.backward = g_backward.load();
  e.recompute = g_recompute.load();
  e.products = g_products.load();
  return e;
}

void reset_executed_flops() {
  for (std::atomic<uint64_t>* c : {&g_forward, &g_backward, &g_recompute, &g_products}) c->store(0);
}

RecomputeScope::RecomputeScope() : previous_(t_recomputing) { t_recomputing = true; }
RecomputeScope::~RecomputeScope() { t_recomputing = previous_; }

torch::Tensor counted_product(const torch::Tensor& a, const torch::Tensor& b) { return CountedProduct::apply(a, b); }

DispatchWatch::DispatchWatch()
    : start_(g_dispatched.load()),
      handle_(at::addGlobalCallback(at::RecordFunctionCallback(&on_dispatch, nullptr)
                                        .scopes({at::RecordScope::FUNCTION}))) {}

DispatchWatch::~DispatchWatch() { at::removeCallback(handle_); }

uint64_t DispatchWatch::products() const { return g_dispatched.load() - start_; }

}  // namespace flopsmeter
