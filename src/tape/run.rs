//! [`NeuronRun`]: a fused neuron whose edges are two runs of consecutive
//! nodes, and the one place its partials `a′(z)·value` are written.

/// A fused neuron `a = f(((w₀·x₀ + w₁·x₁) + …) + b)` whose weights are the
/// consecutive nodes `weights, weights + 1, …` and whose inputs are the consecutive
/// nodes `inputs, inputs + 1, …`.
///
/// The two runs do not overlap. Its edges are those of any fused neuron,
/// `w₀, x₀, w₁, x₁, …, b`, with the local partials
///
/// ```text
/// ∂a/∂wₖ = a′(z) · xₖ      ∂a/∂xₖ = a′(z) · wₖ      ∂a/∂b = a′(z)
/// ```
///
/// Instead of copying 2n + 1 operand indices and partials into the edge arrays,
/// the node keeps where each run starts and `a′(z)`: the factors `xₖ` and `wₖ` are
/// the values of the operands, on the tape already. Recording it writes no edge,
/// and the sweep adds `adjoint · (a′(z) · value)` into a whole run of adjoints at
/// once, each partial computed exactly as the stored form would hold it, so every
/// reader of the tape sees the same numbers either way.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NeuronRun {
    /// The neuron's node.
    pub(crate) node: u32,
    /// The first weight.
    pub(crate) weights: u32,
    /// The first input.
    pub(crate) inputs: u32,
    /// How many weights (and inputs).
    pub(crate) len: u32,
    /// The bias.
    pub(crate) bias: u32,
    /// a′(z), the activation's derivative at the weighted sum.
    pub(crate) derivative: f64,
    /// A relu neuron with z ≤ 0: every edge is masked and its partial exactly 0.
    pub(crate) masked: bool,
}

impl NeuronRun {
    /// The edges in the order of any fused neuron's, `w₀, x₀, w₁, x₁, …, b`, each
    /// with its local partial.
    pub(crate) fn edges(self, values: &[f64]) -> impl Iterator<Item = (u32, f64)> + '_ {
        let (w, x, n, da) = (self.weights, self.inputs, self.len, self.derivative);
        let masked = self.masked;
        let partial = move |value: f64| if masked { 0.0 } else { partial(da, value) };
        let pairs = (0..n).flat_map(move |k| {
            let (wk, xk) = (w + k, x + k);
            [
                (wk, partial(values[xk as usize])),
                (xk, partial(values[wk as usize])),
            ]
        });
        pairs.chain(std::iter::once((self.bias, da)))
    }

    /// The number of edges.
    pub(crate) fn edge_count(self) -> usize {
        2 * self.len as usize + 1
    }

    /// The edges of a [`NeuronRun`] with adjoint `adjoint`:
    /// `adjoints[operand] += adjoint · partial`, each partial `a′(z) · value` computed
    /// as [`NeuronRun::edges`] gives it. A run is a slice of adjoints and a slice of
    /// values, with no index per edge. The runs do not overlap, so every operand gets
    /// exactly the one addition it gets from the edges in their order (the bias, which
    /// may be in a run, last).
    #[inline(always)]
    pub(crate) fn sweep(run: NeuronRun, adjoint: f64, values: &[f64], adjoints: &mut [f64]) {
        let (w, x, len) = (run.weights as usize, run.inputs as usize, run.len as usize);
        let da = run.derivative;
        for (a, &x_value) in adjoints[w..w + len].iter_mut().zip(&values[x..x + len]) {
            *a += adjoint * partial(da, x_value);
        }
        for (a, &w_value) in adjoints[x..x + len].iter_mut().zip(&values[w..w + len]) {
            *a += adjoint * partial(da, w_value);
        }
        adjoints[run.bias as usize] += adjoint * da;
    }
}

/// A fused neuron's local partial for one operand: a′(z) times the value of
/// its partner (∂a/∂wₖ = a′(z)·xₖ, ∂a/∂xₖ = a′(z)·wₖ). The one place it is
/// written: the copied edges of `fused`, [`NeuronRun::edges`] and
/// [`NeuronRun::sweep`] all call it, so every reader sees the same numbers.
#[inline(always)]
pub(crate) fn partial(derivative: f64, value: f64) -> f64 {
    derivative * value
}
