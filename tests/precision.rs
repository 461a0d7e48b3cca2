//! Every op's local partial derivative but silu's (whose 1 + x·σ(−x) cancels near
//! its zero at x ≈ −1.2785: see `Var::silu`), as recorded on the tape (`Tape::edges`),
//! against an independent high-precision reference (`astro-float` at 256 bits),
//! at thousands of points per op: near zero, near the edges of each domain, at
//! large |x| and where a formula could cancel (tanh near |x| = 5).
//!
//! The bound, [`ULPS`]: a partial computed from < 1-ulp libm functions (exp, ln,
//! tanh, powf, sin, cos) through two or three further roundings is within ~3.5
//! ulps when no step cancels, and a fused neuron's edge a′(z)·x rounds once more
//! (+0.5): 4.5 ulps is "a few". An op whose formula cancels (1 − tanh²x near
//! |x| = 5, c·x^(c−1) with c − 1 rounded, x^(n−1) by square-and-multiply for a
//! large n) fails it by orders of magnitude.
//!
//! Skipped: points whose exact partial is subnormal or beyond the f64 range (a
//! subnormal has fewer than 53 bits, and astro-float's conversion from a subnormal
//! f64 is not exact), and powers whose factor x^(c−1) is subnormal while c·x^(c−1)
//! is not (|c| > 1): the partial then keeps only the subnormal's bits, a limit of
//! the formula left as it is.

use astro_float::{BigFloat, Consts, RoundingMode};
use chainrule::{Activation, Tape, Var};

/// The bound on every op's partial, in ulps of the exact value.
const ULPS: f64 = 4.5;
/// Points per op (and per form of an op).
const POINTS: usize = 3000;
/// Bits of the reference.
const P: usize = 256;
const RM: RoundingMode = RoundingMode::ToEven;

struct Reference {
    cc: Consts,
}

impl Reference {
    fn new() -> Self {
        Reference {
            cc: Consts::new().expect("astro-float constants"),
        }
    }
    fn exp(&mut self, x: &BigFloat) -> BigFloat {
        x.exp(P, RM, &mut self.cc)
    }
    fn ln(&mut self, x: &BigFloat) -> BigFloat {
        x.ln(P, RM, &mut self.cc)
    }
    fn pow(&mut self, x: &BigFloat, y: &BigFloat) -> BigFloat {
        x.pow(y, P, RM, &mut self.cc)
    }
    fn sin(&mut self, x: &BigFloat) -> BigFloat {
        x.sin(P, RM, &mut self.cc)
    }
    fn cos(&mut self, x: &BigFloat) -> BigFloat {
        x.cos(P, RM, &mut self.cc)
    }
    /// σ′(x) = e/(1 + e)² with e = e^−|x| (σ′ is even).
    fn sigmoid_derivative(&mut self, x: f64) -> BigFloat {
        let e = self.exp(&big(-x.abs()));
        let one_plus = e.add(&one(), P, RM);
        e.div(&one_plus.mul(&one_plus, P, RM), P, RM)
    }
    /// 1 − tanh²x = 4e/(1 + e)² with e = e^−2|x|: no cancellation at any x.
    fn tanh_derivative(&mut self, x: f64) -> BigFloat {
        let e = self.exp(&big(-2.0 * x.abs())); // 2|x| is exact
        let one_plus = e.add(&one(), P, RM);
        e.mul(&big(4.0), P, RM)
            .div(&one_plus.mul(&one_plus, P, RM), P, RM)
    }
    /// σ(x) = 1/(1 + e^−x).
    fn sigmoid(&mut self, x: f64) -> BigFloat {
        let e = self.exp(&big(-x));
        one().div(&e.add(&one(), P, RM), P, RM)
    }
}

fn big(x: f64) -> BigFloat {
    BigFloat::from_f64(x, P)
}

fn one() -> BigFloat {
    big(1.0)
}

/// x^k for an integer k, exactly enough (|k| up to 2^31: 31 squarings at 256 bits).
fn powi_big(x: f64, k: i64) -> BigFloat {
    let m = big(x.abs()).powi(k.unsigned_abs() as usize, P, RM);
    let m = if k < 0 { m.reciprocal(P, RM) } else { m };
    if x < 0.0 && k % 2 != 0 {
        m.neg()
    } else {
        m
    }
}

fn to_f64(x: &BigFloat) -> f64 {
    format!("{x}").parse().expect("a decimal number")
}

/// |computed − exact| in ulps of the computed value (within a factor 2 of the
/// exact value's ulp), or `None` where the exact partial is not a normal f64.
fn ulps(computed: f64, exact: &BigFloat) -> Option<f64> {
    let e = to_f64(exact);
    if !e.is_normal() || !computed.is_normal() && computed != 0.0 {
        return None;
    }
    let diff = to_f64(&big(computed).sub(exact, P, RM)).abs();
    let ulp = f64::from_bits(computed.abs().to_bits() + 1) - computed.abs(); // next_up needs Rust 1.86
    Some(if computed == 0.0 {
        f64::INFINITY
    } else {
        diff / ulp
    })
}

/// The largest error of one op over its points.
struct Worst {
    op: &'static str,
    ulps: f64,
    at: String,
    points: usize,
}

impl Worst {
    fn new(op: &'static str) -> Self {
        Worst {
            op,
            ulps: 0.0,
            at: String::new(),
            points: 0,
        }
    }
    fn record(&mut self, computed: f64, exact: &BigFloat, at: impl Fn() -> String) {
        if let Some(u) = ulps(computed, exact) {
            self.points += 1;
            if u > self.ulps || u.is_nan() {
                self.ulps = u;
                self.at = format!("{} (tape {computed:e}, exact {exact:.20})", at());
            }
        }
    }
}

/// SplitMix64: deterministic points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi), with a full mantissa.
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next() >> 11) as f64 / (1u64 << 53) as f64)
    }
    /// |x| log-uniform in [lo, hi], either sign if `signed`.
    fn log_uniform(&mut self, lo: f64, hi: f64, signed: bool) -> f64 {
        let m = self.uniform(lo.ln(), hi.ln()).exp().clamp(lo, hi);
        if signed && self.next() & 1 == 1 {
            -m
        } else {
            m
        }
    }
}

/// The one partial of a unary op at x, as recorded.
fn unary_partial(x: f64, f: impl for<'t> Fn(Var<'t>) -> Var<'t>) -> f64 {
    let tape = Tape::new();
    let y = f(tape.var(x));
    let edges = tape.edges(y.index());
    assert_eq!(edges.len(), 1);
    edges[0].1
}

/// Points for an op on the whole real line: uniform near 0, log-uniform out to
/// `max`, and the listed ones.
fn line_points(rng: &mut Rng, core: f64, max: f64, extra: &[f64]) -> Vec<f64> {
    let mut xs: Vec<f64> = extra.to_vec();
    for k in 0..POINTS {
        xs.push(if k % 2 == 0 {
            rng.uniform(-core, core)
        } else {
            rng.log_uniform(1e-300, max, true)
        });
    }
    xs
}

fn check_all(worst: &[Worst]) {
    let mut table = String::new();
    for w in worst {
        table += &format!(
            "{:<28} {:>6} points, max {:.3} ulps at {}\n",
            w.op, w.points, w.ulps, w.at
        );
    }
    eprintln!("{table}");
    for w in worst {
        assert!(w.points >= 1000, "{}: only {} points", w.op, w.points);
        assert!(
            w.ulps <= ULPS,
            "{} is {:.2} ulps off (bound {ULPS}) at {}\n{table}",
            w.op,
            w.ulps,
            w.at
        );
    }
}

#[test]
fn activations_are_within_a_few_ulps() {
    let mut r = Reference::new();
    let mut rng = Rng(1);
    let mut worst = Vec::new();

    // tanh: densest where 1 − t² used to cancel, |x| in [0.3, 6].
    let mut w = Worst::new("tanh");
    let mut xs = line_points(&mut rng, 20.0, 354.0, &[4.99594, 5.0, -5.0, 0.0, 1e-300]);
    xs.extend(
        (0..POINTS).map(|_| rng.uniform(0.3, 6.0) * if rng.next() & 1 == 1 { -1.0 } else { 1.0 }),
    );
    for &x in &xs {
        let exact = r.tanh_derivative(x);
        w.record(unary_partial(x, |v| v.tanh()), &exact, || {
            format!("x = {x:e}")
        });
    }
    worst.push(w);

    // The tanh neuron's a′(z) (its bias edge) and a′(z)·x (its weight edge).
    let mut wb = Worst::new("tanh neuron a'(z)");
    let mut ww = Worst::new("tanh neuron a'(z)·x");
    for &z in &xs {
        let tape = Tape::new();
        let w1 = tape.vars(&[1.0]);
        let x1 = tape.vars(&[z]);
        let b = tape.var(0.0);
        let a = Var::neuron(&w1, &x1, b, Activation::Tanh);
        let edges = tape.edges(a.index());
        let exact = r.tanh_derivative(z);
        wb.record(edges[2].1, &exact, || format!("z = {z:e}"));
        let exact_w = exact.mul(&big(z), P, RM);
        ww.record(edges[0].1, &exact_w, || format!("z = {z:e}"));
    }
    worst.push(wb);
    worst.push(ww);

    let xs = line_points(&mut rng, 40.0, 700.0, &[0.0, 36.0, 37.0, -37.0, 40.0]);
    let mut w = Worst::new("sigmoid");
    let mut wn = Worst::new("sigmoid neuron a'(z)");
    let mut ws = Worst::new("softplus");
    for &x in &xs {
        let exact = r.sigmoid_derivative(x);
        w.record(unary_partial(x, |v| v.sigmoid()), &exact, || {
            format!("x = {x:e}")
        });
        let tape = Tape::new();
        let w1 = tape.vars(&[1.0]);
        let x1 = tape.vars(&[x]);
        let a = Var::neuron(&w1, &x1, tape.var(0.0), Activation::Sigmoid);
        wn.record(tape.edges(a.index())[2].1, &exact, || format!("z = {x:e}"));
        let exact = r.sigmoid(x);
        ws.record(unary_partial(x, |v| v.softplus()), &exact, || {
            format!("x = {x:e}")
        });
    }
    worst.push(w);
    worst.push(wn);
    worst.push(ws);

    let mut w = Worst::new("exp");
    for x in line_points(&mut rng, 700.0, 709.0, &[0.0, 709.0, -700.0]) {
        let exact = r.exp(&big(x));
        w.record(unary_partial(x, |v| v.exp()), &exact, || {
            format!("x = {x:e}")
        });
    }
    worst.push(w);
    check_all(&worst);
}

#[test]
fn powers_roots_and_logs_are_within_a_few_ulps() {
    let mut r = Reference::new();
    let mut rng = Rng(2);
    let mut worst = Vec::new();

    let mut wl = Worst::new("ln");
    let mut wq = Worst::new("sqrt");
    let mut wr = Worst::new("recip");
    for _ in 0..POINTS {
        let x = rng.log_uniform(1e-300, 1e300, false);
        wl.record(
            unary_partial(x, |v| v.ln()),
            &big(x).reciprocal(P, RM),
            || format!("x = {x:e}"),
        );
        let exact = big(x).sqrt(P, RM).mul(&big(2.0), P, RM).reciprocal(P, RM);
        wq.record(unary_partial(x, |v| v.sqrt()), &exact, || {
            format!("x = {x:e}")
        });
        let x = rng.log_uniform(1e-150, 1e150, true);
        let exact = big(x).mul(&big(x), P, RM).reciprocal(P, RM).neg();
        wr.record(unary_partial(x, |v| v.recip()), &exact, || {
            format!("x = {x:e}")
        });
    }
    worst.extend([wl, wq, wr]);

    // powi: small exponents over a wide range, large ones near |x| = 1.
    let mut w = Worst::new("powi");
    for k in 0..POINTS {
        let n: i32 = match k % 6 {
            0..=2 => (rng.next() % 63) as i32 - 31,
            3 => [64, -64, 100, -100, 400, -400][(rng.next() % 6) as usize],
            4 => [i32::MIN, i32::MAX, 1 << 20, -(1 << 20)][(rng.next() % 4) as usize],
            _ => (rng.next() % 2001) as i32 - 1000,
        };
        let spread = (600.0 / (n.unsigned_abs() as f64 + 1.0)).min(6.0);
        let x = rng.log_uniform(1.0, 10f64.powf(spread), false);
        let x = if rng.next() & 1 == 1 { 1.0 / x } else { x }
            * if rng.next() & 1 == 1 { -1.0 } else { 1.0 };
        if n == 0 {
            continue;
        }
        let power = powi_big(x, n as i64 - 1);
        if to_f64(&power).abs() < f64::MIN_POSITIVE {
            continue;
        }
        let exact = power.mul(&big(n as f64), P, RM);
        w.record(unary_partial(x, |v| v.powi(n)), &exact, || {
            format!("x = {x:e}, n = {n}")
        });
    }
    worst.push(w);

    // powf and pow: exponents with a full mantissa (c − 1 then rounds) and simple
    // ones, bases over [1e-100, 1e100].
    let mut wf = Worst::new("powf");
    let mut wx = Worst::new("pow ∂/∂base");
    let mut wy = Worst::new("pow ∂/∂exponent");
    for k in 0..POINTS {
        let c = match k % 3 {
            0 => rng.uniform(-4.0, 4.0),
            1 => [0.1, 0.5, -0.5, 2.5, -2.5, 1.5, 3.0, 0.3][(rng.next() % 8) as usize],
            _ => rng.uniform(-40.0, 40.0),
        };
        let span = 300.0 / c.abs().max(1.0);
        let x = rng.log_uniform(
            10f64.powf(-span.min(100.0)),
            10f64.powf(span.min(100.0)),
            false,
        );
        let c_minus_1 = big(c).sub(&one(), P, RM);
        let power = r.pow(&big(x), &c_minus_1);
        if to_f64(&power).abs() < f64::MIN_POSITIVE {
            continue;
        }
        let exact = power.mul(&big(c), P, RM);
        wf.record(unary_partial(x, |v| v.powf(c)), &exact, || {
            format!("x = {x:e}, c = {c:e}")
        });
        let tape = Tape::new();
        let (xv, cv) = (tape.var(x), tape.var(c));
        let y = xv.pow(cv);
        let edges = tape.edges(y.index());
        wx.record(edges[0].1, &exact, || format!("x = {x:e}, y = {c:e}"));
        let exact_y = r.pow(&big(x), &big(c)).mul(&r.ln(&big(x)), P, RM);
        wy.record(edges[1].1, &exact_y, || format!("x = {x:e}, y = {c:e}"));
    }
    worst.extend([wf, wx, wy]);
    check_all(&worst);
}

#[test]
fn trigonometry_arithmetic_and_losses_are_within_a_few_ulps() {
    let mut r = Reference::new();
    let mut rng = Rng(3);
    let mut worst = Vec::new();

    let mut ws = Worst::new("sin");
    let mut wc = Worst::new("cos");
    for x in line_points(
        &mut rng,
        1e5,
        1.0,
        &[0.0, std::f64::consts::FRAC_PI_2, std::f64::consts::PI],
    ) {
        let exact = r.cos(&big(x));
        ws.record(unary_partial(x, |v| v.sin()), &exact, || {
            format!("x = {x:e}")
        });
        let exact = r.sin(&big(x)).neg();
        wc.record(unary_partial(x, |v| v.cos()), &exact, || {
            format!("x = {x:e}")
        });
    }
    worst.extend([ws, wc]);

    let mut wa = Worst::new("div ∂/∂a");
    let mut wb = Worst::new("div ∂/∂b");
    let mut wk = Worst::new("c / x");
    let mut wq = Worst::new("square");
    let mut wh = Worst::new("half_squared_error");
    let mut wm = Worst::new("mean_squared_error");
    for _ in 0..POINTS {
        let a = rng.log_uniform(1e-100, 1e100, true);
        let b = rng.log_uniform(1e-100, 1e100, true);
        let tape = Tape::new();
        let (av, bv) = (tape.var(a), tape.var(b));
        let q = av / bv;
        let edges = tape.edges(q.index());
        wa.record(edges[0].1, &big(b).reciprocal(P, RM), || {
            format!("a = {a:e}, b = {b:e}")
        });
        let exact = big(a).div(&big(b).mul(&big(b), P, RM), P, RM).neg();
        wb.record(edges[1].1, &exact, || format!("a = {a:e}, b = {b:e}"));
        wk.record(unary_partial(b, |v| a / v), &exact, || {
            format!("c = {a:e}, x = {b:e}")
        });
        wq.record(
            unary_partial(a, |v| v.square()),
            &big(2.0).mul(&big(a), P, RM),
            || format!("x = {a:e}"),
        );

        let (o, t) = (rng.uniform(-10.0, 10.0), rng.uniform(-10.0, 10.0));
        let outs = tape.vars(&[o, 1.0, 2.0]);
        let targets = [t, 0.5, 0.25];
        let e = Var::half_squared_error(&outs, &targets);
        let diff = big(o).sub(&big(t), P, RM);
        wh.record(tape.edges(e.index())[0].1, &diff, || {
            format!("o = {o:e}, t = {t:e}")
        });
        let l = Var::mean_squared_error(&outs, &targets);
        let exact = diff.mul(&big(2.0), P, RM).div(&big(3.0), P, RM);
        wm.record(tape.edges(l.index())[0].1, &exact, || {
            format!("o = {o:e}, t = {t:e}")
        });
    }
    worst.extend([wa, wb, wk, wq, wh, wm]);
    check_all(&worst);
}

/// The partials that are constants or operand values are exact.
#[test]
fn exact_partials_are_exact() {
    let tape = Tape::new();
    let (a, b) = (tape.var(0.3), tape.var(-1.7));
    let cases: Vec<(Var, Vec<f64>)> = vec![
        (a + b, vec![1.0, 1.0]),
        (a - b, vec![1.0, -1.0]),
        (a * b, vec![-1.7, 0.3]),
        (-a, vec![-1.0]),
        (a + 2.5, vec![1.0]),
        (2.5 - a, vec![-1.0]),
        (a * 2.5, vec![2.5]),
        (a / 4.0, vec![0.25]),
        (a.relu(), vec![1.0]),
        (b.relu(), vec![0.0]),
        (b.leaky_relu(0.01), vec![0.01]),
        (b.abs(), vec![-1.0]),
        (a.max(b), vec![1.0, 0.0]),
        (a.min(b), vec![0.0, 1.0]),
        ([a, b].iter().sum(), vec![1.0, 1.0]),
    ];
    for (y, partials) in cases {
        let got: Vec<f64> = tape.edges(y.index()).iter().map(|e| e.1).collect();
        assert_eq!(got, partials, "{}", tape.op(y.index()));
    }
}

/// The tape's tanh computes its value and derivative from one `expm1`, as glibc's
/// `tanh` computes its value: on glibc the two agree bit for bit at every x
/// (spread over 40 binades each side, and at the branch points).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn tanh_value_is_glibc_tanh_bit_for_bit() {
    let tape = chainrule::Tape::new();
    let mut xs = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        22.0,
        -22.0,
        2.0f64.powi(-55),
        1e-300,
        710.0,
        f64::INFINITY,
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..200_000 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mantissa = 1.0 + (state >> 11) as f64 / (1u64 << 53) as f64;
        let exponent = ((state >> 3) % 80) as i32 - 60; // 2^-60 .. 2^19
        let sign = if state & 1 == 0 { 1.0 } else { -1.0 };
        xs.push(sign * mantissa * 2.0f64.powi(exponent));
    }
    for x in xs {
        let t = tape.var(x).tanh().value();
        assert_eq!(
            t.to_bits(),
            x.tanh().to_bits(),
            "tanh({x:e}): tape {t:e}, f64 {:e}",
            x.tanh()
        );
    }
}

// ---- The ops of issue 11 ----------------------------------------------------------
//
// Each derivative from its textbook formula at 256 bits: the operand is exact in
// the reference (an f64 converts exactly), so 1 − x², x² + 1 and the like are
// exact there, and astro-float supplies tan, sinh, cosh, sqrt, cbrt, exp, ln and
// π. Not here: signum (its partial is exactly 0; see `exact_partials_are_exact`).

impl Reference {
    fn tan(&mut self, x: &BigFloat) -> BigFloat {
        x.tan(P, RM, &mut self.cc)
    }
    fn sinh(&mut self, x: &BigFloat) -> BigFloat {
        x.sinh(P, RM, &mut self.cc)
    }
    fn cosh(&mut self, x: &BigFloat) -> BigFloat {
        x.cosh(P, RM, &mut self.cc)
    }
    fn pi(&mut self) -> BigFloat {
        self.cc.pi(P, RM)
    }
}

/// 1/√v.
fn rsqrt(v: &BigFloat) -> BigFloat {
    v.sqrt(P, RM).reciprocal(P, RM)
}

/// x².
fn sq(x: f64) -> BigFloat {
    big(x).mul(&big(x), P, RM)
}

/// Points in (−1, 1): uniform, and log-uniform distances from ±1 and from 0.
fn unit_points(rng: &mut Rng) -> Vec<f64> {
    let mut xs = vec![
        0.0,
        0.5,
        -0.5,
        1.0 - f64::EPSILON,
        -1.0 + f64::EPSILON / 2.0,
    ];
    for k in 0..POINTS {
        let sign = if rng.next() & 1 == 1 { -1.0 } else { 1.0 };
        xs.push(match k % 3 {
            0 => rng.uniform(-1.0, 1.0),
            1 => sign * (1.0 - rng.log_uniform(1e-16, 0.5, false)),
            _ => rng.log_uniform(1e-300, 0.5, true),
        });
    }
    xs
}

#[test]
fn inverse_trigonometric_and_hyperbolic_ops_are_within_a_few_ulps() {
    let mut r = Reference::new();
    let mut rng = Rng(11);
    let mut worst = Vec::new();

    let mut w_asin = Worst::new("asin");
    let mut w_acos = Worst::new("acos");
    let mut w_atanh = Worst::new("atanh");
    for x in unit_points(&mut rng) {
        let one_minus = one().sub(&sq(x), P, RM); // exact: x² has 106 bits
        let exact = rsqrt(&one_minus);
        w_asin.record(unary_partial(x, |v| v.asin()), &exact, || {
            format!("x = {x:e}")
        });
        w_acos.record(unary_partial(x, |v| v.acos()), &exact.neg(), || {
            format!("x = {x:e}")
        });
        w_atanh.record(
            unary_partial(x, |v| v.atanh()),
            &one_minus.reciprocal(P, RM),
            || format!("x = {x:e}"),
        );
    }
    worst.extend([w_asin, w_acos, w_atanh]);

    let mut w_atan = Worst::new("atan");
    let mut w_asinh = Worst::new("asinh");
    for x in line_points(&mut rng, 4.0, 1e150, &[0.0, 1.0, -1.0, 1e150]) {
        let one_plus = one().add(&sq(x), P, RM);
        w_atan.record(
            unary_partial(x, |v| v.atan()),
            &one_plus.reciprocal(P, RM),
            || format!("x = {x:e}"),
        );
        w_asinh.record(unary_partial(x, |v| v.asinh()), &rsqrt(&one_plus), || {
            format!("x = {x:e}")
        });
    }
    worst.extend([w_atan, w_asinh]);

    // acosh: log-uniform distances above 1, and out to 1e150.
    let mut w = Worst::new("acosh");
    let mut xs = vec![1.0 + f64::EPSILON, 2.0, 1e150];
    for k in 0..POINTS {
        xs.push(if k % 2 == 0 {
            1.0 + rng.log_uniform(1e-15, 1.0, false)
        } else {
            rng.log_uniform(2.0, 1e150, false)
        });
    }
    for x in xs {
        let exact = rsqrt(&sq(x).sub(&one(), P, RM));
        w.record(unary_partial(x, |v| v.acosh()), &exact, || {
            format!("x = {x:e}")
        });
    }
    worst.push(w);

    // sinh′ = cosh, cosh′ = sinh, out to where they overflow.
    let mut w_sinh = Worst::new("sinh");
    let mut w_cosh = Worst::new("cosh");
    for x in line_points(&mut rng, 30.0, 710.0, &[0.0, 1e-300, 710.0, -710.0]) {
        let bx = big(x);
        w_sinh.record(unary_partial(x, |v| v.sinh()), &r.cosh(&bx), || {
            format!("x = {x:e}")
        });
        w_cosh.record(unary_partial(x, |v| v.cosh()), &r.sinh(&bx), || {
            format!("x = {x:e}")
        });
    }
    worst.extend([w_sinh, w_cosh]);

    // tan′ = 1 + tan²: over a few periods, near the poles, and out to 1e5.
    let mut w = Worst::new("tan");
    let half_pi = std::f64::consts::FRAC_PI_2;
    let mut xs = line_points(&mut rng, 10.0, 1e5, &[0.0, half_pi, -half_pi]);
    for _ in 0..POINTS / 2 {
        let k = (rng.next() % 21) as f64 - 10.0;
        let d = rng.log_uniform(1e-12, 0.1, true);
        xs.push(half_pi + k * std::f64::consts::PI + d);
    }
    for x in xs {
        let t = r.tan(&big(x));
        let exact = one().add(&t.mul(&t, P, RM), P, RM);
        w.record(unary_partial(x, |v| v.tan()), &exact, || {
            format!("x = {x:e}")
        });
    }
    worst.push(w);
    check_all(&worst);
}

#[test]
fn exponentials_logarithms_and_roots_of_issue_11_are_within_a_few_ulps() {
    let mut r = Reference::new();
    let mut rng = Rng(12);
    let mut worst = Vec::new();
    let ln2 = r.ln(&big(2.0));
    let ln10 = r.ln(&big(10.0));

    let mut w_expm1 = Worst::new("expm1");
    let mut w_exp2 = Worst::new("exp2");
    for x in line_points(&mut rng, 40.0, 709.0, &[0.0, 1e-300, -1e-300, 709.0]) {
        w_expm1.record(unary_partial(x, |v| v.expm1()), &r.exp(&big(x)), || {
            format!("x = {x:e}")
        });
        let exact = r.exp(&big(x).mul(&ln2, P, RM)).mul(&ln2, P, RM);
        w_exp2.record(unary_partial(x, |v| v.exp2()), &exact, || {
            format!("x = {x:e}")
        });
    }
    worst.extend([w_expm1, w_exp2]);

    let mut w_log1p = Worst::new("log1p");
    let mut xs = vec![0.0, -0.5, 1e300];
    for k in 0..POINTS {
        xs.push(match k % 3 {
            0 => -1.0 + rng.log_uniform(1e-16, 1.0, false),
            1 => rng.log_uniform(1e-300, 1e300, false),
            _ => rng.log_uniform(1e-300, 0.5, true),
        });
    }
    for x in xs {
        let exact = one().add(&big(x), P, RM).reciprocal(P, RM);
        w_log1p.record(unary_partial(x, |v| v.log1p()), &exact, || {
            format!("x = {x:e}")
        });
    }
    worst.push(w_log1p);

    let mut w_log2 = Worst::new("log2");
    let mut w_log10 = Worst::new("log10");
    let bases = [3.0, 0.5, 1e-3, 7.25, 1.0 + 1e-6, 1e10];
    let mut w_log = Worst::new("log(base)");
    let mut w_cbrt = Worst::new("cbrt");
    for k in 0..POINTS {
        let x = rng.log_uniform(1e-300, 1e300, false);
        let bx = big(x);
        w_log2.record(
            unary_partial(x, |v| v.log2()),
            &bx.mul(&ln2, P, RM).reciprocal(P, RM),
            || format!("x = {x:e}"),
        );
        w_log10.record(
            unary_partial(x, |v| v.log10()),
            &bx.mul(&ln10, P, RM).reciprocal(P, RM),
            || format!("x = {x:e}"),
        );
        let base = bases[k % bases.len()];
        let exact = bx.mul(&r.ln(&big(base)), P, RM).reciprocal(P, RM);
        w_log.record(unary_partial(x, |v| v.log(base)), &exact, || {
            format!("x = {x:e}, base = {base:e}")
        });
        // cbrt′ = 1/(3·∛x²), either sign.
        let x = if rng.next() & 1 == 1 { -x } else { x };
        let c = big(x).cbrt(P, RM);
        let exact = c.mul(&c, P, RM).mul(&big(3.0), P, RM).reciprocal(P, RM);
        w_cbrt.record(unary_partial(x, |v| v.cbrt()), &exact, || {
            format!("x = {x:e}")
        });
    }
    worst.extend([w_log2, w_log10, w_log, w_cbrt]);
    check_all(&worst);
}

#[test]
fn logsigmoid_erf_atan2_hypot_and_logsumexp_are_within_a_few_ulps() {
    let mut r = Reference::new();
    let mut rng = Rng(13);
    let mut worst = Vec::new();

    // logsigmoid′ = σ(−x).
    let mut w = Worst::new("logsigmoid");
    for x in line_points(&mut rng, 40.0, 700.0, &[0.0, -1000.0, 36.0, -36.0]) {
        w.record(unary_partial(x, |v| v.logsigmoid()), &r.sigmoid(-x), || {
            format!("x = {x:e}")
        });
    }
    worst.push(w);

    // erf′ = (2/√π)·e^−x², down to where it leaves the normal range (|x| ≈ 26.5).
    let mut w = Worst::new("erf");
    let two_over_sqrt_pi = big(2.0).div(&r.pi().sqrt(P, RM), P, RM);
    for x in line_points(&mut rng, 6.0, 26.0, &[0.0, 1.0, -1.0, 1e-300]) {
        let exact = r.exp(&sq(x).neg()).mul(&two_over_sqrt_pi, P, RM);
        w.record(unary_partial(x, |v| v.erf()), &exact, || {
            format!("x = {x:e}")
        });
    }
    worst.push(w);

    // atan2(y, x): ∂/∂y = x/(x² + y²), ∂/∂x = −y/(x² + y²); hypot: x/h and y/h.
    let mut wy = Worst::new("atan2 ∂/∂y");
    let mut wx = Worst::new("atan2 ∂/∂x");
    let mut wc = Worst::new("atan2 with a constant");
    let mut wh = Worst::new("hypot");
    for k in 0..POINTS {
        let y = rng.log_uniform(1e-100, 1e100, true);
        // The other operand within a few decades of the first, or anywhere.
        let x = if k % 2 == 0 {
            y * rng.log_uniform(1e-3, 1e3, true)
        } else {
            rng.log_uniform(1e-100, 1e100, true)
        };
        let r2 = sq(x).add(&sq(y), P, RM);
        let tape = Tape::new();
        let (vy, vx) = (tape.var(y), tape.var(x));
        let a = vy.atan2(vx);
        let edges = tape.edges(a.index());
        let at = || format!("y = {y:e}, x = {x:e}");
        let exact_y = big(x).div(&r2, P, RM);
        let exact_x = big(y).div(&r2, P, RM).neg();
        wy.record(edges[0].1, &exact_y, at);
        wx.record(edges[1].1, &exact_x, at);
        wc.record(unary_partial(y, |v| v.atan2(x)), &exact_y, at);
        wc.record(unary_partial(x, |v| Var::const_atan2(y, v)), &exact_x, at);
        let h = r2.sqrt(P, RM);
        let hv = vy.hypot(vx);
        let edges = tape.edges(hv.index());
        wh.record(edges[0].1, &big(y).div(&h, P, RM), at);
        wh.record(edges[1].1, &big(x).div(&h, P, RM), at);
        wh.record(unary_partial(y, |v| v.hypot(x)), &big(y).div(&h, P, RM), at);
    }
    worst.extend([wy, wx, wc, wh]);

    // logsumexp: ∂/∂xᵢ = e^xᵢ / Σ e^xⱼ, over 2 to 6 inputs of mixed magnitudes.
    let mut w = Worst::new("logsumexp");
    for k in 0..POINTS {
        let n = 2 + k % 5;
        let center = rng.uniform(-700.0, 700.0);
        let spread = [1.0, 10.0, 40.0][k % 3];
        let xs: Vec<f64> = (0..n)
            .map(|_| center + rng.uniform(-spread, spread))
            .collect();
        let tape = Tape::new();
        let vars = tape.vars(&xs);
        let y = Var::logsumexp(&vars);
        let edges = tape.edges(y.index());
        let mut sum = big(0.0);
        let exps: Vec<BigFloat> = xs
            .iter()
            .map(|&x| r.exp(&big(x).sub(&big(center), P, RM)))
            .collect();
        for e in &exps {
            sum = sum.add(e, P, RM);
        }
        for (i, e) in exps.iter().enumerate() {
            w.record(edges[i].1, &e.div(&sum, P, RM), || {
                format!("xs = {xs:?}, i = {i}")
            });
        }
    }
    worst.push(w);
    check_all(&worst);
}

/// The partials of the ops of issue 11 that are constants or operand values are
/// exact.
#[test]
fn exact_partials_of_issue_11_are_exact() {
    let tape = Tape::new();
    let (a, b, c) = (tape.var(0.3), tape.var(-1.7), tape.var(2.5));
    let cases: Vec<(Var, Vec<f64>)> = vec![
        (a.mul_add(b, c), vec![-1.7, 0.3, 1.0]),
        (a.signum(), vec![0.0]),
        (b.signum(), vec![0.0]),
        (a.clamp(0.0, 1.0), vec![1.0]),
        (a.clamp(0.3, 1.0), vec![0.5]),
        (a.clamp(0.3, 0.3), vec![0.0]),
        (b.clamp(0.0, 1.0), vec![0.0]),
        (a.max(0.0), vec![1.0]),
        (a.max(0.3), vec![0.5]),
        (b.max(0.0), vec![0.0]),
        (a.min(0.0), vec![0.0]),
        (b.min(0.0), vec![1.0]),
        (a.constant(4.0), vec![]),
        (Var::logsumexp(&[a, a]), vec![0.5, 0.5]),
    ];
    for (y, partials) in cases {
        let got: Vec<f64> = tape.edges(y.index()).iter().map(|e| e.1).collect();
        assert_eq!(got, partials, "{}", tape.op(y.index()));
    }
}

/// logsumexp's value ln Σ e^xᵢ against the 256-bit reference, over 2 to 6
/// inputs: spread around a centre (as the partials' test above), one input
/// far above the rest (m + ln(1 + r) with r small, where 1 + r rounds r away),
/// and all in [−3, 3]. Points where the value is smaller in magnitude than its
/// largest input m < 0 (m + ln_1p(r) cancels) are left out: there the error is
/// a few ulps of m, not of the value, as `Var::logsumexp` says. The tape's value
/// must equal `Scalar for f64`'s bit for bit.
///
/// The bound is 2 ulps: m + ln_1p(r) rounds r (a sum of up to five terms, each
/// within about an ulp), ln_1p (< 1 ulp) and the sum with m. Measured (worst of
/// each kind): 0.51, 1.57 and 1.53 ulps. Before, as m + ln(1 + r): 0.64, 1.4e302
/// (ln(1 + 7.5e-22) rounded to 0: logsumexp(2.5e-296, −48.6, …) gave 2.5e-296
/// for 7.5e-22) and 5.61 ulps (logsumexp(0.036793068208527124,
/// −2.5141191808202565) gave 0.11191025174003072 for 0.111910251740030797…).
#[test]
fn logsumexp_values_are_within_two_ulps() {
    let mut r = Reference::new();
    let mut rng = Rng(14);
    let mut worst = [
        Worst::new("logsumexp value, around a centre"),
        Worst::new("logsumexp value, one far above"),
        Worst::new("logsumexp value, in [−3, 3]"),
    ];
    for k in 0..3 * POINTS {
        let n = 2 + k % 5;
        let xs: Vec<f64> = match k % 3 {
            0 => {
                let center = rng.uniform(-700.0, 700.0);
                let spread = [1.0, 10.0, 40.0][(k / 3) % 3];
                (0..n)
                    .map(|_| center + rng.uniform(-spread, spread))
                    .collect()
            }
            1 => {
                let top = rng.log_uniform(1e-300, 700.0, true);
                let mut xs = vec![top];
                xs.extend((1..n).map(|_| top - rng.log_uniform(1e-2, 800.0, false)));
                xs
            }
            _ => (0..n).map(|_| rng.uniform(-3.0, 3.0)).collect(),
        };
        let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // ln(1 + ρ), ρ = Σ e^(xᵢ − m) over all but one largest: by its series
        // where ρ is too small for 1 + ρ to keep it at 256 bits.
        let mut rho = big(0.0);
        let top = xs.iter().position(|&x| x == m).expect("a largest");
        for (i, &x) in xs.iter().enumerate() {
            if i != top {
                rho = rho.add(&r.exp(&big(x).sub(&big(m), P, RM)), P, RM);
            }
        }
        let ln_1p = if to_f64(&rho) < 1e-20 {
            let rho2 = rho.mul(&rho, P, RM);
            let rho3 = rho2.mul(&rho, P, RM);
            rho.sub(&rho2.div(&big(2.0), P, RM), P, RM)
                .add(&rho3.div(&big(3.0), P, RM), P, RM)
        } else {
            r.ln(&one().add(&rho, P, RM))
        };
        let exact = big(m).add(&ln_1p, P, RM);
        let e = to_f64(&exact);
        if m < 0.0 && e.abs() < -m {
            continue;
        }
        let tape = Tape::new();
        let y = Var::logsumexp(&tape.vars(&xs));
        assert_eq!(
            y.value().to_bits(),
            <f64 as chainrule::Scalar>::logsumexp(&xs).to_bits(),
            "the tape and Scalar for f64 at {xs:?}"
        );
        worst[k % 3].record(y.value(), &exact, || format!("xs = {xs:?}"));
    }
    for w in &worst {
        eprintln!(
            "{}: {} points, max {:.3} ulps at {}",
            w.op, w.points, w.ulps, w.at
        );
    }
    for w in &worst {
        assert!(w.points >= 1000, "{}: only {} points", w.op, w.points);
        assert!(w.ulps <= 2.0, "{}: {:.2} ulps at {}", w.op, w.ulps, w.at);
    }
}

/// atan2's partials where h = hypot(x, y) < 1 and |y| is so far below |x| that
/// y/h is subnormal while −y/(x² + y²) is normal (y between x²·2^−1022 and
/// |x|·2^−1022): taken as ((y·2^600)/h)/(h·2^600) there, as `Var::atan2` says,
/// within the file's bound. Measured: 1.25 ulps; as (y/h)/h it was up to
/// 1.3e6 ulps off (y/h keeps only a subnormal's bits: −y/(x² + y²) at
/// y = −2.006e-321, x = 1.8871821961318225e-7 was 5.632264333487789e-308 for
/// 5.6322643347657713e-308).
#[test]
fn atan2_partials_are_within_a_few_ulps_where_one_operand_is_far_below_the_other() {
    let mut rng = Rng(15);
    let mut wy = Worst::new("atan2 ∂/∂y, one far below");
    let mut wx = Worst::new("atan2 ∂/∂x, one far below");
    let min = f64::MIN_POSITIVE;
    // The small operand is a subnormal (below |x|·2^−1022 < 2^−1022), which
    // astro-float does not convert exactly: taken as (y·2^600)·2^−600.
    let exact = |v: f64| {
        if v.abs() < min {
            big(v * 2f64.powi(600)).mul(&big(2f64.powi(-600)), P, RM)
        } else {
            big(v)
        }
    };
    for _ in 0..POINTS {
        let x = rng.log_uniform(1e-7, 0.4, true);
        let y = rng.log_uniform(x * x * min * 2.0, x.abs() * min, true);
        // Either order: the small one as the ordinate or as the abscissa.
        let (y, x) = if rng.next() & 1 == 1 { (y, x) } else { (x, y) };
        let (by, bx) = (exact(y), exact(x));
        let r2 = bx.mul(&bx, P, RM).add(&by.mul(&by, P, RM), P, RM);
        let tape = Tape::new();
        let (vy, vx) = (tape.var(y), tape.var(x));
        let a = vy.atan2(vx);
        let edges = tape.edges(a.index());
        let at = || format!("y = {y:e}, x = {x:e}");
        wy.record(edges[0].1, &bx.div(&r2, P, RM), at);
        wx.record(edges[1].1, &by.div(&r2, P, RM).neg(), at);
    }
    check_all(&[wy, wx]);
}
