/* The backward-pass viewer: steps through the recorded chain-rule steps of one backward pass.
 *
 * Data (the JSON block #tv-data, written by viz.viewer): steps[i] is step i + 1 of the pass,
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
  var boxes = {};   // box id -> {g, shape, texts, text}
  var lines = {};   // edge id -> {g, path, arrows, stroke, width}

  Object.keys(data.boxes).forEach(function (id) {
    var g = document.getElementById(id);
    if (!g) return;
    var texts = g.getElementsByTagName("text");
    var shape = g.querySelector("path, polygon, ellipse");
    boxes[id] = { g: g, shape: shape, texts: texts, text: texts[texts.length - 1] };
  });

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

  var k = 0;
  var marked = [];
  var selected = data.defaultLeaf || "";
  var timer = null;

  function go(target) {
    target = Math.max(0, Math.min(N, Math.round(target)));
    while (k < target) { apply(k); k++; }
    while (k > target) { k--; unapply(k); }
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
    $("tv-slider").value = String(k);
    $("tv-counter").textContent = "step " + k + " / " + N;
    $("tv-counter").setAttribute("data-step", String(k));
    $("tv-first").disabled = $("tv-prev").disabled = k === 0;
    $("tv-next").disabled = $("tv-last").disabled = k === N;
    renderStep();
    renderLeaf();
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
      add(box, el("p", "tv-step-title", "Before the pass"));
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
    if (k >= N) go(0);
    var speed = Number($("tv-speed").value) || 2;
    $("tv-play").textContent = "❚❚ pause";
    timer = setInterval(function () {
      if (k >= N) { stop(); return; }
      go(k + 1);
      if (k >= N) stop();
    }, 1000 / speed);
  }

  function togglePlay() { if (timer === null) play(); else stop(); }

  function navigate(target) { stop(); go(target); }

  $("tv-first").addEventListener("click", function () { navigate(0); });
  $("tv-prev").addEventListener("click", function () { navigate(k - 1); });
  $("tv-next").addEventListener("click", function () { navigate(k + 1); });
  $("tv-last").addEventListener("click", function () { navigate(N); });
  $("tv-play").addEventListener("click", togglePlay);
  $("tv-speed").addEventListener("change", function () { if (timer !== null) { stop(); play(); } });
  var slider = $("tv-slider");
  slider.max = String(N);
  slider.addEventListener("input", function () { navigate(Number(slider.value)); });

  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var t = ev.target;
    var tag = t && t.tagName ? t.tagName.toUpperCase() : "";
    if (tag === "SELECT" || tag === "TEXTAREA") return;
    if (tag === "INPUT" && (t.type !== "range" || ev.key !== " ")) return;  // the slider moves itself
    if (tag === "BUTTON" && (ev.key === " " || ev.key === "Enter")) return; // a button clicks itself
    switch (ev.key) {
      case "ArrowRight": navigate(k + 1); break;
      case "ArrowLeft": navigate(k - 1); break;
      case "Home": navigate(0); break;
      case "End": navigate(N); break;
      case " ": case "p": togglePlay(); break;
      default: return;
    }
    ev.preventDefault();
  });

  var select = $("tv-leaf-select");
  data.leaves.forEach(function (leaf) {
    var scope = nodes[leaf.id] && nodes[leaf.id].scope;
    var option = el("option", null, scope ? leaf.name + " — " + scope : leaf.name);
    option.value = leaf.id;
    select.appendChild(option);
  });
  select.addEventListener("change", function () { selected = select.value; render(); });

  svg.addEventListener("click", function (ev) {
    var target = ev.target;
    var edge = target.closest ? target.closest("g.edge") : null;
    var node = target.closest ? target.closest("g.node") : null;
    if (node && nodes[node.id]) { selected = node.id; render(); return; }
    if (edge && stepOfEdge[edge.id] !== undefined) navigate(stepOfEdge[edge.id] + 1);
  });

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
      "white box, dashed outline: no gradient has reached it yet (its pre-pass state).",
      "orange edge: this step's chain-rule product; blue outline: the node the gradient comes from; " +
        "orange outline: the operand it goes to.",
      "edge label \"local\": ∂child/∂parent, the factor the step multiplies in. A done edge takes the " +
        "colour and width of the gradient that flowed along it."
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
  Object.keys(data.boxes).forEach(function (id) { showBox(id, data.boxes[id].initial); });
  render();
  window.tinygradViewer = { go: navigate, step: function () { return k; }, steps: N };
})();
