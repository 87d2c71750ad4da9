/* The viewer, part 3 of 3: the state (position t), controls, keyboard, the URL fragment, zoom,
 * the legend and the start. (Part 1: picture.js, part 2: panels.js; see the header of picture.js.)
 */

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

// keyboard access to the picture: Tab reaches every box and every edge (not the <svg> around them)
svg.setAttribute("tabindex", "-1");
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
