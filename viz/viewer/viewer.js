/* The viewer: steps through the forward pass (node by node) and then the recorded chain-rule
 * steps of one backward pass.
 *
 * Positions: t = 0 .. F + N, F = forward.length (one per node, topological order), N = steps.length.
 * t <= F: forward[0 .. t-1] are computed (t = 0: nothing is); t = F + k: the forward pass is done
 * and backward steps 1..k too. The URL fragment holds the position ("#forward=3", "#backward=5")
 * and the chosen leaf ("&leaf=n2"), so a link opens there.
 *
 * Data (the JSON block #tv-data, written by viz.viewer): forward[i] is node i's value with its
 * formula; edges[id] is an edge's local derivative with its formula and numbers plugged in (shown
 * on hover / focus); steps[i] is step i + 1 of the backward pass,
 * exactly as Graph.backward_steps() yielded it: the edge (child, operand index, parent),
 * upstream, local, contribution, the parent's gradient before and after (accumulated), and how
 * the parent's box looks afterwards. "State k" means steps 1..k have been done (k = 0: before
 * the pass, only the root holds its seed gradient).
 *
 * Safety: every name and number is inserted with textContent (never as markup).
 */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("tv-data").textContent);
  var steps = data.steps;
  var N = steps.length;
  var forward = data.forward;
  var F = forward.length;
  var edgeInfo = data.edges;
  var nodes = data.nodes;
  var rootName = data.rootName;

  // --- small helpers ------------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function add(parent) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return parent;
  }

  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }

  /* A value object's exact number as text ("nan"/"inf"/"-inf" as Python writes them). */
  function exactText(v) {
    if (v.none) return "none";
    var x = v.v !== undefined ? v.v : v.norm;
    if (typeof x === "string") return x;
    return String(x);
  }

  function shapeText(v) {
    if (!v || !v.shape) return "";
    return v.shape.length ? "(" + v.shape.join("×") + ")" : "(scalar)";
  }

  function name(id) { return nodes[id] ? nodes[id].name : id; }

  /* A value with its exact number kept in data attributes (the tests read them). */
  function valueSpan(v, role) {
    var s = el("span", "tv-value", v.t);
    s.setAttribute("data-role", role);
    s.setAttribute("data-exact", exactText(v));
    if (v.shape) s.setAttribute("data-shape", v.shape.join(","));
    return s;
  }

  // --- the picture ------------------------------------------------------------------------

  var svg = $("tv-svg");
  var tip = $("tv-tip");
  var boxes = {};   // box id -> {g, shape, texts, text}
  var lines = {};   // edge id -> {g, path, arrows, stroke, width}

  Object.keys(data.boxes).forEach(function (id) {
    var g = document.getElementById(id);
    if (!g) return;
    var texts = g.getElementsByTagName("text");
    var shape = g.querySelector("path, polygon, ellipse");
    boxes[id] = { g: g, shape: shape, texts: texts, text: texts[texts.length - 1], value: null, members: 0, done: 0 };
  });

  // --- the forward pass: which boxes are computed --------------------------------------------

  var forwardOf = {};  // node id -> forward index
  forward.forEach(function (f, i) {
    forwardOf[f.node] = i;
    var b = boxes[f.box];
    if (!b) return;
    b.members++;
    if (f.box === f.node && f.valueText) {  // a node's own box: find its value row (not the grad row)
      for (var j = b.texts.length - 2; j >= 0; j--) {
        if (b.texts[j].textContent === f.valueText) { b.value = { e: b.texts[j], text: f.valueText }; break; }
      }
    }
  });

  function showComputed(id) {
    var b = boxes[id];
    if (!b) return;
    var pending = b.done < b.members;
    b.g.classList.toggle("tv-pending", pending);
    b.g.setAttribute("data-computed", pending ? "no" : "yes");
    if (b.value) b.value.e.textContent = pending ? "?" : b.value.text;
    var who = nodes[id] ? nodes[id].name : id;
    b.g.setAttribute("aria-label", who + (pending ? ": not computed yet" : ""));
  }

  var edgesInto = {};  // node id -> ids of the edges into it (their locals exist once it is computed)
  Object.keys(edgeInfo).forEach(function (id) { (edgesInto[edgeInfo[id].child] = edgesInto[edgeInfo[id].child] || []).push(id); });

  function computeNode(i, on) {
    (edgesInto[forward[i].node] || []).forEach(function (id) {
      var g = document.getElementById(id);
      if (g) g.classList.toggle("tv-pending", !on);
    });
    var b = boxes[forward[i].box];
    if (!b) return;
    b.done += on ? 1 : -1;
    showComputed(forward[i].box);
  }

  function edgeElements(id) {
    if (lines[id] !== undefined) return lines[id];
    var g = document.getElementById(id);
    if (!g) { lines[id] = null; return null; }
    var path = g.querySelector("path");
    lines[id] = {
      g: g,
      path: path,
      arrows: g.querySelectorAll("polygon"),
      stroke: path ? path.getAttribute("stroke") : null,
      width: path ? path.getAttribute("stroke-width") : null
    };
    return lines[id];
  }

  function showBox(id, view) {
    var b = boxes[id];
    if (!b) return;
    if (b.text) b.text.textContent = view.text;
    if (b.shape) b.shape.setAttribute("fill", view.fill);
    for (var i = 0; i < b.texts.length; i++) b.texts[i].setAttribute("fill", view.font);
    b.g.classList.toggle("tv-unreached", !view.reached);
    b.g.setAttribute("data-grad", view.text);
  }

  function showLine(id, line) {
    var e = edgeElements(id);
    if (!e || !e.path) return;
    var colour = line ? line.colour : e.stroke;
    var width = line ? String(line.width) : e.width;
    e.path.setAttribute("stroke", colour);
    if (width === null) e.path.removeAttribute("stroke-width");
    else e.path.setAttribute("stroke-width", width);
    for (var i = 0; i < e.arrows.length; i++) {
      e.arrows[i].setAttribute("stroke", colour);
      e.arrows[i].setAttribute("fill", colour);
    }
  }

  // For going back a step: the previous step that changed the same box / the same line.
  var prevBox = new Array(N);
  var prevLine = new Array(N);
  var arrivals = {};     // node id -> indices of the steps whose parent it is
  var stepOfEdge = {};   // original edge id -> step index
  (function () {
    var lastBox = {}, lastLine = {};
    for (var i = 0; i < N; i++) {
      var s = steps[i];
      prevBox[i] = lastBox[s.box] !== undefined ? lastBox[s.box] : -1;
      lastBox[s.box] = i;
      if (s.boxEdge) {
        prevLine[i] = lastLine[s.boxEdge] !== undefined ? lastLine[s.boxEdge] : -1;
        lastLine[s.boxEdge] = i;
      }
      (arrivals[s.parent] = arrivals[s.parent] || []).push(i);
      stepOfEdge[s.edge] = i;
    }
  })();

  function apply(i) {
    var s = steps[i];
    showBox(s.box, s.view);
    if (s.boxEdge && s.line) showLine(s.boxEdge, s.line);
  }

  function unapply(i) {
    var s = steps[i];
    var p = prevBox[i];
    showBox(s.box, p >= 0 ? steps[p].view : data.boxes[s.box].initial);
    if (s.boxEdge) {
      var q = prevLine[i];
      showLine(s.boxEdge, q >= 0 ? steps[q].line : null);
    }
  }

  // --- state --------------------------------------------------------------------------------

  var t = 0;   // the position: forward steps done (up to F), then F + backward steps done
  var k = 0;   // backward steps done: max(0, t - F)
  var marked = [];
  var selected = data.defaultLeaf || "";
  var timer = null;

  function go(target) {
    target = Math.max(0, Math.min(F + N, Math.round(target)));
    while (t < target) {
      if (t < F) computeNode(t, true); else apply(t - F);
      t++;
    }
    while (t > target) {
      t--;
      if (t < F) computeNode(t, false); else unapply(t - F);
    }
    k = Math.max(0, t - F);
    render();
  }

  function mark(e, cls) {
    if (!e) return;
    e.classList.add(cls);
    marked.push([e, cls]);
  }

  function render() {
    marked.forEach(function (m) { m[0].classList.remove(m[1]); });
    marked = [];
    if (t > 0 && t <= F && boxes[forward[t - 1].box]) {
      mark(boxes[forward[t - 1].box].g, "tv-computing");
      keepInView(boxes[forward[t - 1].box].g);
    }
    if (k > 0) {
      var s = steps[k - 1];
      var line = s.boxEdge ? edgeElements(s.boxEdge) : null;
      if (line) mark(line.g, "tv-current");
      else if (boxes[s.box]) mark(boxes[s.box].g, "tv-current-box");
      var from = nodes[s.child] ? nodes[s.child].box : null;
      if (from && boxes[from]) mark(boxes[from].g, "tv-from");
      if (boxes[s.box]) mark(boxes[s.box].g, "tv-to");
      if (line) keepInView(line.g);
    }
    if (selected && boxes[nodes[selected] ? nodes[selected].box : ""]) {
      mark(boxes[nodes[selected].box].g, "tv-selected");
    }
    $("tv-slider").value = String(t);
    $("tv-slider").setAttribute("aria-valuetext", counterText());
    var counter = $("tv-counter");
    counter.textContent = counterText();
    counter.setAttribute("data-step", String(k));
    counter.setAttribute("data-forward", String(Math.min(t, F)));
    counter.setAttribute("data-position", String(t));
    $("tv-first").disabled = $("tv-prev").disabled = t === 0;
    $("tv-next").disabled = $("tv-last").disabled = t === F + N;
    $("tv-backward").disabled = t === F;
    document.body.classList.toggle("tv-forward-phase", t < F);
    if (t < F) renderForward(); else renderStep();
    renderLeaf();
    writeFragment();
    if (tip && !tip.hidden && tip.getAttribute("data-edge")) showTip(document.getElementById(tip.getAttribute("data-edge")));
  }

  function counterText() {
    return t < F ? "forward " + t + " / " + F : "backward " + k + " / " + N;
  }

  function keepInView(target) {
    var pane = $("tv-graph");
    var r = target.getBoundingClientRect();
    var p = pane.getBoundingClientRect();
    if (r.top >= p.top && r.bottom <= p.bottom && r.left >= p.left && r.right <= p.right) return;
    pane.scrollTop += (r.top + r.height / 2) - (p.top + p.height / 2);
    pane.scrollLeft += (r.left + r.width / 2) - (p.left + p.width / 2);
  }

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

  // --- controls ---------------------------------------------------------------------------------

  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    $("tv-play").textContent = "▶ play";
  }

  function play() {
    if (t >= F + N) go(0);
    var speed = Number($("tv-speed").value) || 2;
    $("tv-play").textContent = "❚❚ pause";
    timer = setInterval(function () {
      if (t >= F + N) { stop(); return; }
      go(t + 1);
      if (t >= F + N) stop();
    }, 1000 / speed);
  }

  function togglePlay() { if (timer === null) play(); else stop(); }

  function navigate(target) { stop(); go(target); }

  $("tv-first").addEventListener("click", function () { navigate(0); });
  $("tv-prev").addEventListener("click", function () { navigate(t - 1); });
  $("tv-next").addEventListener("click", function () { navigate(t + 1); });
  $("tv-last").addEventListener("click", function () { navigate(F + N); });
  $("tv-backward").addEventListener("click", function () { navigate(F); });
  $("tv-play").addEventListener("click", togglePlay);
  $("tv-speed").addEventListener("change", function () { if (timer !== null) { stop(); play(); } });
  var slider = $("tv-slider");
  slider.max = String(F + N);
  slider.addEventListener("input", function () { navigate(Number(slider.value)); });

  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var target = ev.target;
    var tag = target && target.tagName ? target.tagName.toUpperCase() : "";
    if (tag === "SELECT" || tag === "TEXTAREA") return;
    if (tag === "INPUT" && (target.type !== "range" || ev.key !== " ")) return;  // the slider moves itself
    if (tag === "BUTTON" && (ev.key === " " || ev.key === "Enter")) return; // a button clicks itself
    var inPicture = target && target.closest ? target.closest("#tv-svg g.edge, #tv-svg g.node") : null;
    if (inPicture && ev.key === "Enter") { choose(inPicture); ev.preventDefault(); return; }
    switch (ev.key) {
      case "ArrowRight": navigate(t + 1); break;
      case "ArrowLeft": navigate(t - 1); break;
      case "Home": navigate(0); break;
      case "End": navigate(F + N); break;
      case "b": navigate(F); break;
      case "Escape": hideTip(); break;
      case " ": case "p": togglePlay(); break;
      default: return;
    }
    ev.preventDefault();
  });

  function position() { return t; }

  var select = $("tv-leaf-select");
  data.leaves.forEach(function (leaf) {
    var scope = nodes[leaf.id] && nodes[leaf.id].scope;
    var option = el("option", null, scope ? leaf.name + " — " + scope : leaf.name);
    option.value = leaf.id;
    select.appendChild(option);
  });
  select.addEventListener("change", function () { selected = select.value; render(); });

  /* A click or Enter on a box chooses it for the chain-rule panel; on an edge, goes to its step. */
  function choose(g) {
    if (g.classList.contains("node") && nodes[g.id]) { selected = g.id; render(); return; }
    if (g.classList.contains("edge") && stepOfEdge[g.id] !== undefined) navigate(F + stepOfEdge[g.id] + 1);
  }

  svg.addEventListener("click", function (ev) {
    var g = ev.target.closest ? ev.target.closest("g.node, g.edge") : null;
    if (g) choose(g);
  });
  svg.addEventListener("mouseover", function (ev) {
    var g = ev.target.closest ? ev.target.closest("g.edge") : null;
    if (g) showTip(g);
  });
  svg.addEventListener("mouseout", function (ev) {
    var g = ev.target.closest ? ev.target.closest("g.edge") : null;
    if (!g || (ev.relatedTarget && g.contains(ev.relatedTarget))) return;
    var focused = document.activeElement;
    if (focused && focused.classList && focused.classList.contains("edge") && svg.contains(focused)) showTip(focused);
    else hideTip();
  });
  svg.addEventListener("focusin", function (ev) {
    var g = ev.target.closest ? ev.target.closest("g.edge") : null;
    if (g) showTip(g); else hideTip();
  });
  svg.addEventListener("focusout", function () { hideTip(); });

  // keyboard access to the picture: Tab reaches every box and every edge
  Array.prototype.forEach.call(svg.querySelectorAll("g.node, g.edge"), function (g) {
    g.setAttribute("tabindex", "0");
    g.setAttribute("role", "button");
    if (g.classList.contains("edge") && edgeInfo[g.id]) {
      var e = edgeInfo[g.id];
      g.setAttribute("aria-label", "edge " + name(e.parent) + " → " + name(e.child) + ": local " + e.local.t);
    } else if (g.classList.contains("node") && !g.getAttribute("aria-label")) {
      g.setAttribute("aria-label", nodes[g.id] ? nodes[g.id].name : "group " + g.id);
    }
  });

  // --- the URL fragment: "#forward=3" / "#backward=5", "&leaf=n2" ----------------------------------

  function fragment() {
    var where = t < F ? "forward=" + t : "backward=" + k;
    return "#" + where + (selected ? "&leaf=" + selected : "");
  }

  function writeFragment() {
    var want = fragment();
    if (location.hash === want) return;
    try { history.replaceState(null, "", want); } catch (err) { /* a sandboxed iframe may refuse: fine */ }
  }

  /* The position and leaf a fragment names (null where it names none or names nonsense). */
  function readFragment(hash) {
    var found = { t: null, leaf: null };
    (hash || "").replace(/^#/, "").split("&").forEach(function (part) {
      var kv = part.split("=");
      var n = Number(kv[1]);
      if (kv[0] === "forward" && /^[0-9]+$/.test(kv[1] || "")) found.t = Math.min(n, F);
      if (kv[0] === "backward" && /^[0-9]+$/.test(kv[1] || "")) found.t = F + Math.min(n, N);
      if (kv[0] === "leaf" && nodes[kv[1]]) found.leaf = kv[1];
    });
    return found;
  }

  function followFragment() {
    var found = readFragment(location.hash);
    if (found.leaf) selected = found.leaf;
    stop();
    go(found.t !== null ? found.t : t);
  }
  window.addEventListener("hashchange", followFragment);

  // --- zoom --------------------------------------------------------------------------------------

  var natural = {
    w: parseFloat(svg.getAttribute("width")) * 4 / 3,   // Graphviz writes points; CSS pixels are 3/4 pt
    h: parseFloat(svg.getAttribute("height")) * 4 / 3
  };
  var zoom = 1;
  function setZoom(z) {
    zoom = Math.max(0.1, Math.min(4, z));
    svg.style.width = (natural.w * zoom).toFixed(1) + "px";
    svg.style.height = (natural.h * zoom).toFixed(1) + "px";
    $("tv-zoom-level").textContent = Math.round(zoom * 100) + "%";
  }
  function fitZoom() {
    var room = $("tv-graph").clientWidth - 20;
    return room > 0 && natural.w > 0 ? Math.min(1, room / natural.w) : 1;
  }
  $("tv-zoom-in").addEventListener("click", function () { setZoom(zoom * 1.25); });
  $("tv-zoom-out").addEventListener("click", function () { setZoom(zoom / 1.25); });
  $("tv-zoom-fit").addEventListener("click", function () { setZoom(fitZoom()); });
  if (natural.w > 0 && natural.h > 0) setZoom(Math.max(0.6, fitZoom()));

  // --- legend ------------------------------------------------------------------------------------

  (function () {
    var legend = $("tv-legend");
    add(legend, el("b", null, "Colours"));
    var swatches = el("div", "tv-swatches");
    data.legend.forEach(function (stop) {
      var s = el("span", "tv-swatch", stop[0]);
      s.style.background = stop[1];
      s.style.color = stop[2];
      swatches.appendChild(s);
    });
    add(legend, swatches);
    var notes = [
      "box colour: its ‖grad‖ relative to the root's gradient, log scale — blue: the gradient shrank " +
        "on its way down from the root, red: it grew.",
      "greyed-out box, value ?: not computed yet (the forward pass has not reached it).",
      "white box, dashed outline: no gradient has reached it yet (its pre-pass state).",
      "orange edge: this step's chain-rule product; blue outline: the node the gradient comes from; " +
        "orange outline: the operand it goes to.",
      "edge label \"local\": ∂child/∂parent, the factor the step multiplies in. A done edge takes the " +
        "colour and width of the gradient that flowed along it. Hover over an edge (or Tab to it) to see " +
        "its formula with the numbers plugged in."
    ];
    if (data.grouped) {
      notes.push("A box is a group of nodes (by " + data.grouped + "): its ‖grad‖ is √Σ‖grad‖² over its " +
        "members. Every original edge is a step; it is drawn on the edge between the two groups, or " +
        "as an orange outline of the group when both ends are inside it.");
    }
    notes.forEach(function (text) { add(legend, el("p", null, text)); });
  })();

  // --- start ---------------------------------------------------------------------------------------

  document.body.classList.add("tv-" + data.kind);
  Object.keys(data.boxes).forEach(function (id) { showBox(id, data.boxes[id].initial); showComputed(id); });
  Object.keys(edgeInfo).forEach(function (id) {
    var g = document.getElementById(id);
    if (g) g.classList.add("tv-pending");
  });
  followFragment();  // also the first render
  window.tinygradViewer = {
    go: navigate, step: function () { return k; }, position: position, steps: N, forwardSteps: F
  };
})();
