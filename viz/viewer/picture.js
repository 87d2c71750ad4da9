/* The viewer, part 1 of 3: the data and the picture (boxes, edges, what a step changes in them).
 *
 * viz/viewer/page.py joins picture.js, panels.js and viewer.js, in this order, into the one script of
 * the page, inside one function scope ("use strict"): the three files share their names.
 */
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
