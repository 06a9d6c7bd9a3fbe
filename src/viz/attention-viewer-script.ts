/**
 * The attention viewer's inline script: a function expression called with the widget's root id. It
 * reads the JSON payload beside it, draws each head's thumbnail and the selected head's heatmap on
 * canvases, and wires the head buttons (click) and the tokens (hover). Plain ES2017 DOM code with
 * no globals of its own, so several viewers can share a page; it must never contain "</script".
 */

export const ATTENTION_VIEWER_SCRIPT = String.raw`(function (rootId) {
  "use strict";
  var self = document.currentScript;
  var root = self && self.parentNode && self.parentNode.id === rootId ? self.parentNode : document.getElementById(rootId);
  if (!root) return;
  var payload = JSON.parse(root.querySelector("script.gl-data").textContent);
  var data = payload.data;
  var decimals = payload.decimals;
  var palette = payload.palette.map(function (c) {
    return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];
  });
  var n = data.tokens.length;
  var notice = root.querySelector(".gl-needs-script");
  if (notice) notice.parentNode.removeChild(notice);
  var state = { layerIndex: 0, head: 0, focus: null };

  function weight(li, h, q, k) { return k <= q ? data.patterns[li][h][q][k] : 0; }
  function rgb(v) { return palette[Math.max(0, Math.min(palette.length - 1, Math.round(v * (palette.length - 1))))]; }
  function fmt(v) { return v.toFixed(decimals); }
  function show(t) { return t.replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t"); }
  function quoted(p) { return p + " \u201c" + show(data.tokens[p]) + "\u201d"; }
  function label(li, h) { return "L" + data.layers[li] + "H" + h; }

  function patternImage(li, h) {
    var canvas = document.createElement("canvas");
    canvas.width = n;
    canvas.height = n;
    var ctx = canvas.getContext("2d");
    var image = ctx.createImageData(n, n);
    for (var q = 0; q < n; q++) {
      for (var k = 0; k < n; k++) {
        var c = rgb(weight(li, h, q, k));
        var at = (q * n + k) * 4;
        image.data[at] = c[0]; image.data[at + 1] = c[1]; image.data[at + 2] = c[2]; image.data[at + 3] = 255;
      }
    }
    ctx.putImageData(image, 0, 0);
    return canvas;
  }

  var buttons = Array.prototype.slice.call(root.querySelectorAll("button.gl-head"));
  buttons.forEach(function (button) {
    var li = data.layers.indexOf(Number(button.getAttribute("data-layer")));
    var h = Number(button.getAttribute("data-head"));
    var thumb = button.querySelector("canvas");
    thumb.width = 36;
    thumb.height = 36;
    var ctx = thumb.getContext("2d");
    ctx.imageSmoothingEnabled = n > 36;
    ctx.drawImage(patternImage(li, h), 0, 0, 36, 36);
    button.addEventListener("click", function () { select(li, h); });
  });

  var heat = root.querySelector("canvas.gl-heatmap");
  var title = root.querySelector(".gl-heatmap-title");
  var cellInfo = root.querySelector(".gl-cell-info");
  var focusInfo = root.querySelector(".gl-focus");
  var heatCtx = heat.getContext("2d");
  var cell = Math.max(2, Math.min(28, Math.floor(420 / n)));
  var labelFont = "11px monospace";
  var tokenLabels = data.tokens.map(function (t, p) {
    var s = show(t);
    return (s.length > 14 ? s.slice(0, 13) + "\u2026" : s) + " " + p;
  });
  var margin = 0;
  if (cell >= 10) {
    heatCtx.font = labelFont;
    tokenLabels.forEach(function (s) { margin = Math.max(margin, Math.ceil(heatCtx.measureText(s).width) + 6); });
  }
  heat.width = margin + n * cell + 1;
  heat.height = n * cell + margin + 1;
  heat.style.maxWidth = "100%";

  function drawHeatmap() {
    var ctx = heatCtx;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, heat.width, heat.height);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(patternImage(state.layerIndex, state.head), margin, 0, n * cell, n * cell);
    if (margin > 0) {
      ctx.font = labelFont;
      ctx.fillStyle = "#222222";
      ctx.textBaseline = "middle";
      ctx.textAlign = "right";
      for (var q = 0; q < n; q++) ctx.fillText(tokenLabels[q], margin - 4, q * cell + cell / 2);
      for (var k = 0; k < n; k++) {
        ctx.save();
        ctx.translate(margin + k * cell + cell / 2, n * cell + 4);
        ctx.rotate(-Math.PI / 2);
        ctx.fillText(tokenLabels[k], 0, 0);
        ctx.restore();
      }
    }
    if (state.focus !== null) {
      ctx.strokeStyle = "#222222";
      ctx.lineWidth = 1;
      ctx.strokeRect(margin + 0.5, state.focus * cell + 0.5, n * cell, cell);
      ctx.strokeRect(margin + state.focus * cell + 0.5, 0.5, cell, n * cell);
    }
  }

  heat.addEventListener("mousemove", function (event) {
    var box = heat.getBoundingClientRect();
    var x = (event.clientX - box.left) * (heat.width / box.width) - margin;
    var y = (event.clientY - box.top) * (heat.height / box.height);
    var k = Math.floor(x / cell);
    var q = Math.floor(y / cell);
    if (x < 0 || k >= n || q < 0 || q >= n) { cellInfo.textContent = ""; return; }
    var value = k <= q ? fmt(weight(state.layerIndex, state.head, q, k)) : "masked (0)";
    cellInfo.textContent = "query " + quoted(q) + " \u2192 key " + quoted(k) + ": " + value;
  });
  heat.addEventListener("mouseleave", function () { cellInfo.textContent = ""; });

  var tokens = Array.prototype.slice.call(root.querySelectorAll(".gl-token"));
  function setChip(chip, value) {
    if (value === null) {
      chip.textContent = "";
      chip.style.background = "";
      chip.style.color = "";
      chip.removeAttribute("data-value");
      return;
    }
    var c = rgb(value);
    chip.textContent = fmt(value);
    chip.setAttribute("data-value", fmt(value));
    chip.style.background = "rgb(" + c.join(",") + ")";
    chip.style.color = value > 0.55 ? "#ffffff" : "";
  }

  function showFocus() {
    var p = state.focus;
    if (p === null) return;
    var li = state.layerIndex, h = state.head;
    var bestTo = 0, bestFrom = p;
    tokens.forEach(function (el) {
      var t = Number(el.getAttribute("data-pos"));
      setChip(el.querySelector(".gl-to"), t <= p ? weight(li, h, p, t) : null);
      setChip(el.querySelector(".gl-from"), t >= p ? weight(li, h, t, p) : null);
      if (t <= p && weight(li, h, p, t) > weight(li, h, p, bestTo)) bestTo = t;
      if (t >= p && weight(li, h, t, p) > weight(li, h, bestFrom, p)) bestFrom = t;
      el.classList.toggle("gl-focused", t === p);
    });
    focusInfo.textContent = label(li, h) + ", token " + quoted(p) + ": attends most to " + quoted(bestTo) + " (" +
      fmt(weight(li, h, p, bestTo)) + "); most attended from " + quoted(bestFrom) + " (" + fmt(weight(li, h, bestFrom, p)) + ")";
  }

  tokens.forEach(function (el) {
    el.addEventListener("mouseenter", function () {
      state.focus = Number(el.getAttribute("data-pos"));
      showFocus();
      drawHeatmap();
    });
  });

  function select(li, h) {
    state.layerIndex = li;
    state.head = h;
    buttons.forEach(function (button) {
      var on = Number(button.getAttribute("data-layer")) === data.layers[li] && Number(button.getAttribute("data-head")) === h;
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
    title.textContent = label(li, h) + payload.titleSuffix;
    drawHeatmap();
    showFocus();
  }

  select(0, 0);
})`;
