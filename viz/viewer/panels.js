/* The viewer, part 2 of 3: the panels — the forward step, the backward step (upstream × local =
 * contribution), an edge's formula on hover / focus, and the chain rule of the chosen leaf.
 * Every name and number is inserted with textContent (never as markup).
 */

// --- the step panel -----------------------------------------------------------------------

function renderStep() {
  var box = clear($("tv-step"));
  if (k === 0) {
    add(box, el("p", "tv-step-title", "Forward pass done — before the backward pass"));
    if (F) add(box, forwardLine(forward[F - 1]));
    var p = el("p", "tv-flow");
    add(p, "The root ", el("b", null, rootName), " starts with ∂" + rootName + "/∂" + rootName + " = ",
      valueSpan(data.seed, "seed"), " (the seed). No other gradient has arrived yet: those boxes are " +
      "white with a dashed outline.");
    add(box, p);
    add(box, el("p", "tv-note", N ? "Press next ▶ or → to do the first chain-rule step."
      : "This graph has no edge to backpropagate through."));
    return;
  }
  var s = steps[k - 1];
  var child = name(s.child), parent = name(s.parent);
  add(box, el("p", "tv-step-title", "Step " + k + " of " + N + (k === N ? " — the last one" : "")));
  var flow = el("p", "tv-flow");
  add(flow, "The gradient flows from ", el("span", "tv-from", child), " down to its operand ",
    el("span", "tv-to", parent), " (operand " + s.index + ").");
  add(box, flow);

  var table = el("table", "tv-eq");
  var names = el("tr", "tv-eq-names");
  add(names, el("td", null, "∂" + rootName + "/∂" + child), el("td", "tv-op", ""),
    el("td", null, "∂" + child + "/∂" + parent), el("td", "tv-op", ""), el("td", null, "contribution"));
  var values = el("tr", "tv-eq-values");
  add(values, add(el("td"), valueSpan(s.upstream, "upstream")), el("td", "tv-op", "×"),
    add(el("td"), valueSpan(s.local, "local")), el("td", "tv-op", "="),
    add(el("td"), valueSpan(s.contribution, "contribution")));
  var labels = el("tr", "tv-eq-names");
  add(labels, el("td", null, "upstream"), el("td", "tv-op", ""), el("td", null, "local"),
    el("td", "tv-op", ""), el("td", null, "local × upstream"));
  add(table, names, values, labels);
  if (data.kind === "tensor") {
    var shapes = el("tr", "tv-eq-names");
    add(shapes, el("td", "tv-shape", shapeText(s.upstream)), el("td", "tv-op", ""),
      el("td", "tv-shape", s.local.map ? "a linear map" : shapeText(s.local)), el("td", "tv-op", ""),
      el("td", "tv-shape", shapeText(s.contribution)));
    add(table, shapes);
  }
  add(box, table);

  var acc = el("p", "tv-acc");
  add(acc, parent + ".grad: ");
  if (s.before.none) {
    add(acc, "none + ", el("b", null, s.contribution.t), " = ");
  } else {
    add(acc, valueSpan(s.before, "before"), " + ", el("b", null, s.contribution.t), " = ");
  }
  add(acc, add(el("b"), valueSpan(s.accumulated, "accumulated")));
  add(box, acc);
  if (s.formula) add(box, el("p", "tv-formula", "local ∂" + child + "/∂" + parent + " = " + s.formula));
  var exact = el("div", "tv-exact");
  var scalar = s.upstream.v !== undefined;
  add(exact, el("div", null, (scalar ? "exact: upstream " : "norms: ‖upstream‖ ") + exactText(s.upstream)));
  if (!s.local.map) add(exact, el("div", null, (scalar ? "local " : "‖local‖ ") + exactText(s.local)));
  add(exact, el("div", null, (scalar ? "contribution " : "‖contribution‖ ") + exactText(s.contribution)));
  add(exact, el("div", null, (scalar ? "accumulated " : "‖accumulated‖ ") + exactText(s.accumulated)));
  add(box, exact);
  if (k === N) add(box, el("p", "tv-note", "The pass is complete: every leaf now holds ∂" + rootName +
    "/∂leaf, exactly what backward() leaves in .grad."));
}

// --- the forward panel ------------------------------------------------------------------------

/* "h1 = σ(x) = σ(0.5) = 0.622" (a leaf: "x = 0.5, an input"). */
function forwardLine(f) {
  var line = el("p", "tv-forward-eq");
  var who = name(f.node);
  if (!f.named) {
    add(line, el("b", null, who), " = ", valueSpan(f.value, "value"),
      nodes[f.node] && nodes[f.node].leaf ? "  (a leaf: its value is given)" : "");
    return line;
  }
  add(line, el("b", null, who), " = ", el("span", "tv-named", f.named), " = ");
  if (f.numbers) add(line, el("span", "tv-numbers", f.numbers), " = ");
  add(line, add(el("b"), valueSpan(f.value, "value")));
  if (f.value.shape) add(line, el("span", "tv-shape", " " + shapeText(f.value)));
  return line;
}

function renderForward() {
  var box = clear($("tv-step"));
  if (t === 0) {
    add(box, el("p", "tv-step-title", "Before the forward pass"));
    add(box, el("p", "tv-flow", "Nothing is computed yet: every box is greyed out and its value reads ?. " +
      "The forward pass computes the nodes in topological order (every operand before the node that " +
      "uses it); the backward pass follows."));
    add(box, el("p", "tv-note", "Press next ▶ or → to compute the first node; b jumps to the backward pass."));
    return;
  }
  var f = forward[t - 1];
  add(box, el("p", "tv-step-title", "Forward step " + t + " of " + F));
  add(box, forwardLine(f));
  if (f.definition) add(box, el("p", "tv-formula", "where " + f.definition));
  var exact = el("div", "tv-exact");
  add(exact, el("div", null, (f.value.shape ? "exact ‖value‖ " : "exact value ") + exactText(f.value)));
  add(box, exact);
  var left = F - t;
  add(box, el("p", "tv-note", left ? left + " node" + (left === 1 ? "" : "s") + " not computed yet (greyed out, ?)."
    : "The forward pass is complete."));
}

// --- an edge's local derivative, on hover or focus ----------------------------------------------


function edgeText(id) {
  var e = edgeInfo[id];
  var lines = ["∂" + name(e.child) + "/∂" + name(e.parent) + " = " + (e.text || e.local.t)];
  var at = forwardOf[e.child];
  if (at !== undefined && t <= at) {
    lines = ["∂" + name(e.child) + "/∂" + name(e.parent) + " = " + (e.formula || "?"),
      "not computed yet: the local is evaluated when " + name(e.child) + " is computed (forward step " +
      (at + 1) + ")"];
  } else if (e.step) {
    lines.push("used at backward step " + e.step + " (Enter or click: go there)");
  }
  return lines;
}

function showTip(g) {
  var id = g.id;
  if (!edgeInfo[id]) return;
  clear(tip);
  edgeText(id).forEach(function (line, i) { add(tip, el("div", i ? "tv-tip-note" : "tv-tip-main", line)); });
  tip.setAttribute("data-edge", id);
  tip.setAttribute("data-local", exactText(edgeInfo[id].local.map ? { v: "map" } : edgeInfo[id].local));
  tip.hidden = false;
  g.setAttribute("aria-describedby", "tv-tip");  // a screen reader reads the formula with the edge
  var r = g.getBoundingClientRect();
  var x = Math.min(window.innerWidth - tip.offsetWidth - 8, Math.max(8, r.left + r.width / 2 - tip.offsetWidth / 2));
  var y = r.top - tip.offsetHeight - 8;
  if (y < 8) y = r.bottom + 8;
  tip.style.left = x.toFixed(0) + "px";
  tip.style.top = y.toFixed(0) + "px";
}

function hideTip() { tip.hidden = true; tip.removeAttribute("data-edge"); }

// --- the chain rule of one node ------------------------------------------------------------

var leafRecords = {};
data.leaves.forEach(function (leaf) { leafRecords[leaf.id] = leaf; });

function renderLeaf() {
  var body = clear($("tv-leaf-body"));
  $("tv-leaf-select").value = leafRecords[selected] ? selected : "";
  if (!selected || !nodes[selected]) {
    add(body, el("p", "tv-note", "Choose a leaf (or click any node in the picture) to follow its chain rule."));
    return;
  }
  var who = name(selected);
  var record = leafRecords[selected];
  add(body, el("p", "tv-note", "∂" + rootName + "/∂" + who + " as far as step " + k + " has gone:"));
  if (record && record.paths) renderPaths(body, record, who);
  else if (record && record.note) add(body, el("p", "tv-note", record.note));

  var mine = (arrivals[selected] || []).filter(function (i) { return i < k; });
  var current;
  if (mine.length) {
    var list = el("ol", "tv-arrivals");
    mine.forEach(function (i) {
      var s = steps[i];
      add(list, el("li", null, "step " + (i + 1) + ", from " + name(s.child) + ": " + s.upstream.t + " × " +
        s.local.t + " = " + s.contribution.t));
    });
    add(body, el("p", "tv-note", mine.length === 1 ? "The gradient that has arrived:" :
      mine.length + " gradients have arrived (they add up):"), list);
    current = steps[mine[mine.length - 1]].accumulated;
  } else {
    current = selected === data.root ? data.seed : null;
    if (!current) add(body, el("p", "tv-note", "No gradient has arrived at " + who + " yet."));
  }
  var total = el("p", "tv-total");
  if (current) add(total, who + ".grad = ", add(el("b"), valueSpan(current, "leaf-grad")));
  else add(total, who + ".grad = ", el("b", null, data.kind === "tensor" ? "none" : "0"), " (pre-pass state)");
  add(body, total);
}

function renderPaths(body, record, who) {
  var shown = record.paths.slice(0, 24);
  shown.forEach(function (path, p) {
    var done = 0;
    while (done < path.steps.length && path.steps[done] <= k) done++;
    var box = el("div", "tv-path" + (done === path.steps.length ? " tv-complete" : ""));
    add(box, el("div", "tv-route", "path " + (p + 1) + ": " + path.route.join(" ← ")));
    var factors = el("div", "tv-factors");
    path.factors.forEach(function (f, j) {
      if (j) add(factors, " × ");
      var cls = "tv-factor" + (j < done ? (path.steps[j] === k ? " tv-new" : "") : " tv-pending");
      add(factors, el("span", cls, j < done ? f.t : "?"));
    });
    if (done) {
      add(factors, " = ");
      var sofar = add(el("span", "tv-sofar"), valueSpan(path.running[done - 1], "running"));
      add(factors, sofar, done === path.steps.length ? " ✓" :
        "  (" + done + " of " + path.steps.length + " factors so far)");
    } else {
      add(factors, "  (no factor yet)");
    }
    add(box, factors);
    add(body, box);
  });
  if (record.paths.length > shown.length) {
    add(body, el("p", "tv-note", (record.paths.length - shown.length) + " more paths not shown."));
  }
  var sum = null, count = 0;
  for (var i = 0; i < record.completed.length; i++) {
    if (record.completed[i][0] <= k) { sum = record.completed[i][1]; count = i + 1; }
  }
  if (record.paths.length > 1) {
    var line = el("p", "tv-total");
    if (sum) add(line, "Σ over the " + count + " completed path" + (count === 1 ? "" : "s") + " = ",
      add(el("b"), valueSpan(sum, "path-sum")));
    else add(line, "No path is complete yet.");
    add(body, line);
  }
}
