// The backward sweep, step by step: the script of every page chainrule::html
// writes. No library, no network: the data is the JSON in #data.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  const num = (v) => (typeof v === "string" ? Number(v) : v);
  const SVG = "http://www.w3.org/2000/svg";

  const nodes = D.nodes.map((n) => ({ ...n, value: num(n.value), grad: num(n.grad), outside: num(n.outside) }));
  const byIndex = new Map(nodes.map((n) => [n.i, n]));
  const edges = D.edges.map((e) => ({ ...e, partial: num(e.partial) }));
  const edgesOf = new Map();
  for (const e of edges) {
    if (!edgesOf.has(e.node)) edgesOf.set(e.node, []);
    edgesOf.get(e.node).push(e);
  }
  // A node that uses an operand more than once (x·x, max(x, x)) has one edge per
  // use, each with the partial in that operand slot, the other uses held fixed:
  // e.use is the edge's rank among them (1-based), e.uses their number.
  for (const list of edgesOf.values()) {
    for (const e of list) {
      const same = list.filter((o) => o.operand === e.operand);
      e.use = same.indexOf(e) + 1;
      e.uses = same.length;
    }
  }
  const isLeaf = (n) => !edgesOf.has(n.i) && n.op === "leaf";
  const output = byIndex.get(D.output);

  // A number as the explanations write it: 8 decimals, scientific when tiny or huge.
  function fmt(x) {
    if (Number.isNaN(x)) return "NaN";
    if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
    const m = Math.abs(x);
    return x !== 0 && (m < 1e-4 || m >= 1e9) ? x.toExponential(8) : x.toFixed(8);
  }
  // A name as an operand of ∂: bare when it is one word, else in parentheses.
  const d = (name) => (/^[\p{L}\p{N}_'′]+$/u.test(name) ? name : "(" + name + ")");
  // The local partial an edge carries, named as the explanations name it:
  // ∂node/∂operand; ∂node/∂operand|direct where the node also depends on the
  // operand through another of its operands (e.direct, found in the tape: the
  // partial holds that route fixed, so it is not ∂node/∂operand, the total:
  // x·y·x at (2, 5) is 10 along the edge, 20 in all); or, for one of several
  // uses of the same operand, ∂node/∂(operand, use j of m): the partial in that
  // use alone, which is not ∂node/∂operand either (x·x: 3 per use, 6 in all).
  const direct = (e) => (e.direct ? "|direct" : "");
  const partialName = (e) => {
    const n = byIndex.get(e.node).name;
    const x = byIndex.get(e.operand).name;
    return e.uses > 1 ? `∂${d(n)}/∂(${x}, use ${e.use} of ${e.uses})` : `∂${d(n)}/∂${d(x)}${direct(e)}`;
  };
  // After the last of several uses: what they add up to, ∂node/∂operand (its
  // direct partial, where the node also depends on the operand otherwise).
  const usesSum = (e) => {
    const same = edgesOf.get(e.node).filter((o) => o.operand === e.operand);
    const n = byIndex.get(e.node).name;
    const x = byIndex.get(e.operand).name;
    const total = same.reduce((s, o) => s + o.partial, 0);
    const terms = same.map((o, j) => (j > 0 && o.partial < 0 ? "(" + fmt(o.partial) + ")" : fmt(o.partial))).join(" + ");
    return `${n} uses ${x} ${e.uses} times, one edge per use, each with its partial in that use (the other uses held fixed); together ∂${d(n)}/∂${d(x)}${direct(e)} = ${terms} = ${fmt(total)}`;
  };
  // A partial's value with its notes: not picked by a select op, a convention
  // at a kink (the same note as the explanation's).
  const partialNotes = (e) => {
    const kink = byIndex.get(e.node).kink;
    if (e.masked) return kink ? ` (${e.tag}: passes 0; ${kink})` : ` (${e.tag}: passes 0)`;
    return kink ? ` (${kink})` : "";
  };

  // The steps: the forward pass over the computed nodes, the seed, then every
  // node from the last recorded down that passes something on.
  const steps = [];
  for (const n of nodes) if (!isLeaf(n)) steps.push({ kind: "forward", node: n.i });
  steps.push({ kind: "seed", node: D.output });
  for (const n of [...nodes].reverse()) {
    if (edgesOf.has(n.i) || n.outside !== 0) steps.push({ kind: "backward", node: n.i });
  }

  let focus = D.focus;
  const explanations = new Map(D.explanations);

  // The state after the first k steps, replayed from the start (a few hundred
  // nodes at most: cheap, and "back" is then exact).
  function replay(k) {
    const st = { known: new Set(), adj: new Map(), current: null, phase: "start", fired: [], spent: new Set(), done: new Set(), log: [], terms: [] };
    for (const n of nodes) if (isLeaf(n)) st.known.add(n.i);
    for (let s = 0; s < k; s++) apply(st, steps[s]);
    if (k === steps.length) st.phase = "done";
    return st;
  }

  function apply(st, step) {
    const n = byIndex.get(step.node);
    for (const f of st.fired) st.spent.add(f.edge.path);
    st.fired = [];
    st.current = n.i;
    if (step.kind === "forward") {
      st.phase = "forward";
      st.known.add(n.i);
      // The formula over its operands' names (those not drawn, cut by
      // `within`, by their names or values), written by the explain module.
      const formula = n.formula === n.name ? "" : ` = ${n.formula}`;
      st.log = [`forward: ${n.name}${formula} = ${fmt(n.value)}`];
      return;
    }
    st.phase = "backward";
    if (step.kind === "seed") {
      st.adj.set(n.i, 1);
      st.log = [`backward: adjoint[${n.name}] = 1, since ∂${d(n.name)}/∂${d(n.name)} = 1: the sweep starts at the output`];
      return;
    }
    // (Not `adj.get(i) || 0`: a NaN adjoint is falsy, and is NaN, not 0.)
    let a = st.adj.has(n.i) ? st.adj.get(n.i) : 0;
    st.log = [];
    if (n.outside !== 0) {
      a = n.grad;
      st.adj.set(n.i, a);
      st.log.push(`backward: adjoint[${n.name}] += ${fmt(n.outside)} from uses not drawn (now ${fmt(a)})`);
      if (edgesOf.has(n.i)) st.log.push(`${n.name} passes its adjoint ${fmt(a)} down`);
      // The focus's sum lists this share too, or its terms would not add up.
      if (n.i === focus) st.terms.push({ node: n, outside: n.outside, c: n.outside, after: a });
    } else {
      st.log.push(`backward: ${n.name} passes its adjoint ${fmt(a)} down`);
    }
    for (const e of edgesOf.get(n.i) || []) {
      const op = byIndex.get(e.operand);
      const before = st.adj.has(op.i) ? st.adj.get(op.i) : 0;
      const c = e.masked ? 0 : a * e.partial;
      const after = before + c;
      st.adj.set(op.i, after);
      st.fired.push({ edge: e, a, c, after });
      st.log.push(
        `adjoint[${op.name}] += adjoint[${n.name}] × ${partialName(e)} = ${fmt(a)} × ${fmt(e.partial)}` +
          partialNotes(e) + ` → ${fmt(after)}`
      );
      if (e.uses > 1 && e.use === e.uses) st.log.push(usesSum(e));
      if (op.i === focus) st.terms.push({ node: n, edge: e, a, partial: e.partial, c, after, masked: e.masked });
    }
    st.done.add(n.i);
  }

  // ---- drawing --------------------------------------------------------------
  const svg = document.getElementById("graph");
  const wrap = document.getElementById("graph-wrap");
  svg.setAttribute("viewBox", `0 0 ${D.size[0]} ${D.size[1]}`);
  let zoom = 1;
  function setZoom(z) {
    zoom = z === "fit" ? Math.min(1, (wrap.clientWidth - 4) / D.size[0]) : Number(z) || 1;
    svg.setAttribute("width", D.size[0] * zoom);
    svg.setAttribute("height", D.size[1] * zoom);
  }
  const zoomSelect = document.getElementById("zoom");
  zoomSelect.addEventListener("change", () => {
    setZoom(zoomSelect.value);
    reveal();
  });
  const el = (name, attrs, parent) => {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  };
  const defs = el("defs", {}, svg);
  const marker = el("marker", { id: "head", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" }, defs);
  el("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "head" }, marker);

  const edgeLayer = el("g", { id: "edges" }, svg);
  const nodeLayer = el("g", { id: "nodes" }, svg);
  const labelLayer = el("g", { id: "labels" }, svg);
  const curves = D.paths.map((p, k) => {
    const masked = edges.filter((e) => e.path === k).every((e) => e.masked);
    return el("path", { d: p, class: "edge" + (masked ? " masked" : ""), "marker-end": "url(#head)", id: "curve-" + k }, edgeLayer);
  });

  const [W, H] = D.box;
  const shapes = new Map();
  for (const n of nodes) {
    const g = el("g", { class: "node", id: "node-" + n.i, "data-index": n.i, "data-name": n.name, transform: `translate(${n.x},${n.y})` }, nodeLayer);
    el("rect", { width: W, height: H, rx: 8 }, g);
    const text = (y, cls) => el("text", { x: 10, y, class: cls }, g);
    const name = text(18, "name");
    name.textContent = n.name;
    const op = text(34, "op");
    op.textContent = n.op + (n.i === D.output ? " · output" : "");
    const value = text(52, "value");
    const grad = text(68, "grad");
    const title = el("title", {}, g);
    title.textContent = `${n.name}: node #${n.i}, ${n.op}`;
    g.addEventListener("click", () => {
      if (explanations.has(n.i)) {
        focus = n.i;
        focusSelect.value = String(n.i);
        show();
      }
    });
    shapes.set(n.i, { g, value, grad });
  }

  // ---- the side panel -------------------------------------------------------
  const focusSelect = document.getElementById("focus");
  for (const [i] of D.explanations) {
    const o = document.createElement("option");
    o.value = String(i);
    o.textContent = byIndex.get(i).name;
    focusSelect.appendChild(o);
  }
  if (focus !== null) focusSelect.value = String(focus);
  focusSelect.addEventListener("change", () => {
    focus = Number(focusSelect.value);
    show();
  });

  // ---- stepping -------------------------------------------------------------
  let k = 0;
  let timer = null;
  const buttons = Object.fromEntries(["reset", "back", "step", "play", "end"].map((id) => [id, document.getElementById(id)]));
  const status = document.getElementById("status");
  const log = document.getElementById("log");
  const sum = document.getElementById("sum");
  const explanation = document.getElementById("explanation");

  function show() {
    const st = replay(k);
    current = st.phase === "done" ? null : st.current;
    for (const n of nodes) {
      const s = shapes.get(n.i);
      const known = st.known.has(n.i);
      const hasAdj = st.adj.has(n.i);
      s.value.textContent = known ? "value " + fmt(n.value) : "value ?";
      s.g.setAttribute("data-value", known ? String(n.value) : "");
      s.grad.textContent = hasAdj ? "grad " + fmt(st.adj.get(n.i)) : "grad ?";
      s.g.setAttribute("data-grad", hasAdj ? String(st.adj.get(n.i)) : "");
      s.g.classList.toggle("known", known);
      s.g.classList.toggle("current", st.current === n.i && st.phase !== "done");
      s.g.classList.toggle("fired", st.done.has(n.i));
      s.g.classList.toggle("focus", n.i === focus);
    }
    labelLayer.replaceChildren();
    const firedPaths = new Map();
    for (const f of st.fired) {
      if (!firedPaths.has(f.edge.path)) firedPaths.set(f.edge.path, []);
      firedPaths.get(f.edge.path).push(f);
    }
    curves.forEach((c, p) => {
      c.classList.toggle("firing", firedPaths.has(p));
      c.classList.toggle("spent", st.spent.has(p) && !firedPaths.has(p));
    });
    for (const [p, fs] of firedPaths) {
      const c = curves[p];
      const len = c.getTotalLength();
      const at = c.getPointAtLength(len / 2);
      const t = el("text", { x: at.x, y: at.y - 6 - 14 * (fs.length - 1), class: "edge-label" }, labelLayer);
      fs.forEach((f, j) => {
        const line = el("tspan", { x: at.x, dy: j === 0 ? 0 : 14 }, t);
        line.textContent = `adjoint[${byIndex.get(f.edge.operand).name}] += ${fmt(f.a)} × ${fmt(f.edge.partial)}` + (f.edge.masked ? ` (${f.edge.tag})` : "");
      });
      const box = t.getBBox();
      labelLayer.insertBefore(el("rect", { x: box.x - 3, y: box.y - 1, width: box.width + 6, height: box.height + 2, class: "edge-label-bg" }), t);
    }

    const phase = { start: "press step", forward: "forward pass", backward: "backward sweep", done: "done" }[st.phase];
    status.textContent = `step ${k} of ${steps.length} · ${phase}`;
    status.dataset.step = String(k);
    status.dataset.total = String(steps.length);
    status.dataset.phase = st.phase;
    buttons.reset.disabled = buttons.back.disabled = k === 0;
    buttons.step.disabled = buttons.end.disabled = k === steps.length;
    buttons.play.textContent = timer ? "⏸ pause" : "▶ play";

    log.replaceChildren();
    const lines = st.log.length ? st.log : ["Press step (or →) to run the forward pass, then the backward sweep, one node at a time."];
    for (const line of lines) {
      const p = document.createElement("p");
      p.textContent = line;
      log.appendChild(p);
    }
    if (st.phase === "done") {
      const p = document.createElement("p");
      const agree = nodes.every((n) => Object.is(st.adj.get(n.i) ?? 0, n.grad) || st.adj.get(n.i) === n.grad);
      p.className = agree ? "ok" : "bad";
      p.textContent = agree
        ? "The sweep is done: every gradient shown is the tape's, digit for digit."
        : "The sweep is done, but some gradient differs from the tape's (see the nodes).";
      log.appendChild(p);
    }

    sum.replaceChildren();
    if (D.explanations.length === 0) {
      // A page cut by `within` that draws no input: no chain rule to show.
      const p = document.createElement("p");
      p.textContent = "No input (leaf) is drawn on this page, so there is no chain rule for one to show: draw more steps below the output (within) or the whole tape.";
      sum.appendChild(p);
    }
    if (focus !== null && byIndex.has(focus)) {
      const x = byIndex.get(focus);
      const y = output.name;
      const head = document.createElement("p");
      const reused = edges.some((e) => e.operand === x.i && e.uses > 1);
      const directly = edges.some((e) => e.operand === x.i && e.direct);
      const held = directly
        ? `; where a use also depends on ${x.name} through another of its operands, its partial is ∂use/∂${d(x.name)}|direct, that operand held fixed (the route through it is a term of its own)`
        : "";
      head.textContent = reused
        ? `∂${d(y)}/∂${d(x.name)} is the sum, over the uses of ${x.name}, of adjoint[node] × the node's partial in that use alone; a node that uses ${x.name} more than once (as ${x.name}·${x.name}) gives one term per use${held}:`
        : `∂${d(y)}/∂${d(x.name)} is the sum, over the uses of ${x.name}, of adjoint[use] × ∂use/∂${d(x.name)}${held}:`;
      sum.appendChild(head);
      const all = replay(steps.length).terms.length;
      for (const t of st.terms) {
        const p = document.createElement("p");
        p.className = "term";
        if (t.outside !== undefined) {
          p.textContent = `+ ${fmt(t.c)} from the uses of ${x.name} not drawn (their share, as the tape swept it)`;
          sum.appendChild(p);
          continue;
        }
        const kink = t.node.kink;
        const notes = t.masked ? (kink ? ` (${t.edge.tag}: 0; ${kink})` : ` (${t.edge.tag}: 0)`) : kink ? ` (${kink})` : "";
        p.textContent = `+ ∂${d(y)}/∂${d(t.node.name)} · ${partialName(t.edge)} = ${fmt(t.a)} × ${fmt(t.partial)}${notes} = ${fmt(t.c)}`;
        sum.appendChild(p);
        if (t.edge.uses > 1 && t.edge.use === t.edge.uses) {
          const note = document.createElement("p");
          note.className = "term-note";
          note.textContent = `(${usesSum(t.edge)})`;
          sum.appendChild(note);
        }
      }
      const total = document.createElement("p");
      total.className = "total";
      const value = st.adj.has(x.i) ? st.adj.get(x.i) : 0;
      const complete = st.terms.length === all && st.phase !== "forward" && st.phase !== "start";
      total.textContent = complete
        ? `= ${fmt(value)}, complete (${all} term${all === 1 ? "" : "s"}); the tape has ${fmt(x.grad)}`
        : `= ${fmt(value)} so far (${st.terms.length} of ${all} terms)`;
      sum.appendChild(total);
      explanation.textContent = explanations.get(focus) || "";
    }
  }

  // Scrolls the current node into view when it is not.
  let current = null;
  function reveal() {
    const n = current === null ? null : byIndex.get(current);
    if (!n) return;
    const [x, y, w, h] = [n.x * zoom, n.y * zoom, W * zoom, H * zoom];
    // Comfortably inside: a fifth of the view from each side.
    const mx = wrap.clientWidth / 5;
    const my = wrap.clientHeight / 5;
    const inside = x >= wrap.scrollLeft + mx && x + w <= wrap.scrollLeft + wrap.clientWidth - mx && y >= wrap.scrollTop + my && y + h <= wrap.scrollTop + wrap.clientHeight - my;
    if (!inside) {
      wrap.scrollLeft = x + w / 2 - wrap.clientWidth / 2;
      wrap.scrollTop = y + h / 2 - wrap.clientHeight / 2;
    }
  }
  function go(to) {
    k = Math.max(0, Math.min(steps.length, to));
    show();
    reveal();
  }
  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
  }
  buttons.step.addEventListener("click", () => go(k + 1));
  buttons.back.addEventListener("click", () => { stop(); go(k - 1); });
  buttons.reset.addEventListener("click", () => { stop(); go(0); });
  buttons.end.addEventListener("click", () => { stop(); go(steps.length); });
  buttons.play.addEventListener("click", () => {
    if (timer) {
      stop();
      show();
      return;
    }
    if (k === steps.length) k = 0;
    timer = setInterval(() => {
      if (k >= steps.length) {
        stop();
        show();
      } else go(k + 1);
    }, 700);
    show();
  });
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLSelectElement) return;
    const press = { ArrowRight: "step", ArrowLeft: "back", Home: "reset", End: "end", " ": "play" }[e.key];
    if (press && !buttons[press].disabled) {
      e.preventDefault();
      buttons[press].click();
    }
  });

  // #play=all, #step=N, &focus=NAME, &zoom=fit|0.5|0.75|1: for scripts, tests and screenshots. Each
  // press is a click on the step button, as a person would make.
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has("focus")) {
    const wanted = nodes.find((n) => n.name === params.get("focus"));
    if (wanted && explanations.has(wanted.i)) {
      focus = wanted.i;
      focusSelect.value = String(focus);
    }
  }
  if (params.has("zoom")) zoomSelect.value = params.get("zoom");
  setZoom(zoomSelect.value);
  show();
  const presses = params.get("play") === "all" ? Infinity : Number(params.get("step") || 0);
  for (let p = 0; p < presses && !buttons.step.disabled; p++) buttons.step.click();
})();
