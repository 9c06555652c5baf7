// Autograd: requires-grad, backward (with gradients, retain-graph, several roots, create-graph), .grad,
// zeroing, detach and no-grad scopes; values computed by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as T from "../../src/torch/index.js";

/** Reads x.grad (a new handle each time) and frees it. */
function gradOf(x: T.Tensor): number[] | null {
  const g = x.grad;
  if (!g) return null;
  try {
    return g.toList();
  } finally {
    g.dispose();
  }
}

test("requires-grad flags, leaves, and the gradient of a scalar", () => {
  T.tidy(() => {
    const x = T.tensor([1, 2, 3]);
    assert.equal(x.requiresGrad, false);
    assert.equal(gradOf(x), null, "no grad before backward");
    x.requiresGrad = true;
    assert.equal(x.requiresGrad, true);
    assert.equal(x.isLeaf, true);
    const y = x.mul(x).sum(); // y = Σ x², dy/dx = 2x
    assert.equal(y.requiresGrad, true);
    assert.equal(y.isLeaf, false);
    y.backward();
    assert.deepEqual(gradOf(x), [2, 4, 6]);
    const c = T.tensor([5]);
    assert.equal(c.mul(x.sum()).requiresGrad, true, "requires-grad propagates through ops");
    assert.equal(T.ones([2], { requiresGrad: true }).requiresGrad, true, "creation option");
    assert.equal(T.zeros([2]).requiresGrad_().requiresGrad, true, "requiresGrad_ returns this");
  });
});

test("backward with a gradient argument for non-scalar outputs; implicit gradients need scalars", () => {
  T.tidy(() => {
    const x = T.tensor([1, 2, 3], undefined, { requiresGrad: true });
    const y = x.mul(3); // dy_i/dx_i = 3
    assert.throws(() => y.backward(), /backward: grad can be implicitly created only for scalar outputs/);
    y.backward(T.tensor([1, 10, 100]));
    assert.deepEqual(gradOf(x), [3, 30, 300]);
    assert.throws(() => T.tensor([1]).backward(), /does not require grad/);
  });
});

test("gradients accumulate; retainGraph allows a second backward; without it the second one fails", () => {
  T.tidy(() => {
    const x = T.tensor([1, -2], undefined, { requiresGrad: true });
    const y = x.mul(x).mul(x).sum(); // dy/dx = 3x²
    y.backward(undefined, { retainGraph: true });
    assert.deepEqual(gradOf(x), [3, 12]);
    y.backward();
    assert.deepEqual(gradOf(x), [6, 24], "accumulated over both calls");
    assert.throws(() => y.backward(), (e: Error) => e instanceof Error && /backward through the graph a second time/.test(e.message));
  });
});

test("zeroing gradients: set to null, or zero in place through the .grad handle", () => {
  T.tidy(() => {
    const x = T.tensor([1, 2], undefined, { requiresGrad: true });
    x.sum().backward();
    assert.deepEqual(gradOf(x), [1, 1]);
    x.grad = null;
    assert.equal(gradOf(x), null);
    x.mul(4).sum().backward();
    assert.deepEqual(gradOf(x), [4, 4]);
    const g = x.grad!;
    g.zero_(); // the handle shares the gradient's storage
    g.dispose();
    assert.deepEqual(gradOf(x), [0, 0]);
    x.mul(2).sum().backward();
    assert.deepEqual(gradOf(x), [2, 2], "accumulates into the zeroed gradient");
    x.grad = T.tensor([7, 8]);
    assert.deepEqual(gradOf(x), [7, 8], "a gradient can be set");
    assert.throws(() => (x.grad = T.tensor([1, 2, 3])), /shape/);
  });
});

test("detach cuts the graph and shares storage; noGrad records nothing and restores the mode", () => {
  T.tidy(() => {
    const x = T.tensor([1, 2], undefined, { requiresGrad: true });
    const y = x.mul(2);
    const d = y.detach();
    assert.equal(d.requiresGrad, false);
    assert.equal(T.native.dataPtr(d.id), T.native.dataPtr(y.id));
    // Only the path through y.sum() carries gradient: d is a constant.
    y.sum().add(d.mul(x).sum()).backward(); // d/dx [Σ2x + Σ d·x] = 2 + d
    assert.deepEqual(gradOf(x), [4, 6]);

    assert.equal(T.isGradEnabled(), true);
    const z = T.noGrad(() => {
      assert.equal(T.isGradEnabled(), false);
      return x.mul(3);
    });
    assert.equal(z.requiresGrad, false, "made without recording");
    assert.equal(T.isGradEnabled(), true, "restored");
    assert.throws(() => T.noGrad(() => {
      throw new Error("boom");
    }), /boom/);
    assert.equal(T.isGradEnabled(), true, "restored after a throw");
    T.noGrad(() => {
      assert.equal(T.enableGrad(() => x.mul(1).requiresGrad), true, "enableGrad inside noGrad");
      // SGD-style update of a leaf without recording it.
      x.sub_(T.tensor([1, 1]));
    });
    assert.deepEqual(x.toList(), [0, 1]);
    assert.equal(x.isLeaf, true);
  });
});

test("several roots at once, retained gradients of non-leaves, and double backward (createGraph)", () => {
  T.tidy(() => {
    const x = T.tensor([1, 2], undefined, { requiresGrad: true });
    const a = x.mul(2).sum();
    const b = x.mul(x).sum();
    T.backward([a, b]); // 2 + 2x
    assert.deepEqual(gradOf(x), [4, 6]);

    x.grad = null;
    const h = x.mul(3).retainGrad();
    h.mul(h).sum().backward(); // dL/dh = 2h = 6x
    assert.deepEqual(gradOf(h), [6, 12]);

    x.grad = null;
    const c = x.pow(3).sum();
    c.backward(undefined, { createGraph: true }); // g = 3x², with its own graph
    const g = x.grad!;
    assert.deepEqual(g.toList(), [3, 12]);
    assert.equal(g.requiresGrad, true);
    x.grad = null;
    g.sum().backward(); // d/dx Σ3x² = 6x
    g.dispose();
    assert.deepEqual(gradOf(x), [6, 12]);
  });
});
