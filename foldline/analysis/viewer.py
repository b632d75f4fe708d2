"""A small, dependency-free 3D CA-trace viewer for ``report.html``.

The report must open offline and from an e-mail link, so the viewer is ~100 lines of
plain JavaScript on a 2D canvas, inlined in the page: both models' CA traces (the
second already superposed onto the first), each segment coloured by pLDDT in AlphaFold's
four bands, drawn far-to-near with depth shading. Drag to rotate, wheel to zoom, the
check boxes hide either model. It lives in a Python string so that it ships with the
package wherever the package goes (a Lambda zip, a wheel) with no package-data step.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["VIEWER_JS", "structure_payload", "viewer_html"]

#: segments longer than this (Å) between consecutive CAs are chain breaks, not drawn
MAX_CA_STEP = 4.5

VIEWER_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fl-structure-data").textContent);
  var canvas = document.getElementById("fl-viewer");
  var ctx = canvas.getContext("2d");
  var W = canvas.width, H = canvas.height;
  var pts = [];
  data.models.forEach(function (m) { m.chains.forEach(function (c) { pts = pts.concat(c.ca); }); });
  var cen = [0, 0, 0];
  pts.forEach(function (p) { cen[0] += p[0]; cen[1] += p[1]; cen[2] += p[2]; });
  cen = cen.map(function (v) { return v / Math.max(pts.length, 1); });
  var radius = 1;
  pts.forEach(function (p) {
    var d = Math.hypot(p[0] - cen[0], p[1] - cen[1], p[2] - cen[2]);
    if (d > radius) radius = d;
  });
  var rot = [[1, 0, 0], [0, 1, 0], [0, 0, 1]], zoom = 1;
  var visible = data.models.map(function () { return true; });
  function mul(a, b) {
    var r = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
    for (var i = 0; i < 3; i++) for (var j = 0; j < 3; j++)
      for (var k = 0; k < 3; k++) r[i][j] += a[i][k] * b[k][j];
    return r;
  }
  function rx(t) { var c = Math.cos(t), s = Math.sin(t); return [[1, 0, 0], [0, c, -s], [0, s, c]]; }
  function ry(t) { var c = Math.cos(t), s = Math.sin(t); return [[c, 0, s], [0, 1, 0], [-s, 0, c]]; }
  rot = mul(rx(0.5), ry(0.6));
  function colour(v) {
    return v > 90 ? [0, 83, 214] : v >= 70 ? [101, 203, 243] : v >= 50 ? [255, 219, 19] : [255, 125, 69];
  }
  function project(p) {
    var x = p[0] - cen[0], y = p[1] - cen[1], z = p[2] - cen[2];
    var s = zoom * 0.46 * Math.min(W, H) / radius;
    return [W / 2 + s * (rot[0][0] * x + rot[0][1] * y + rot[0][2] * z),
            H / 2 - s * (rot[1][0] * x + rot[1][1] * y + rot[1][2] * z),
            (rot[2][0] * x + rot[2][1] * y + rot[2][2] * z) / radius];
  }
  function draw() {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, W, H);
    var segs = [];
    data.models.forEach(function (m, mi) {
      if (!visible[mi]) return;
      m.chains.forEach(function (c) {
        var q = c.ca.map(project);
        for (var i = 0; i + 1 < q.length; i++) {
          if (c.breaks[i]) continue;
          segs.push([q[i], q[i + 1], (q[i][2] + q[i + 1][2]) / 2,
                     colour(Math.min(c.plddt[i], c.plddt[i + 1])), m.width]);
        }
      });
    });
    segs.sort(function (a, b) { return a[2] - b[2]; });
    ctx.lineCap = "round";
    segs.forEach(function (s) {
      var shade = 0.55 + 0.45 * (s[2] + 1) / 2;  // nearer is brighter
      var c = s[3];
      ctx.strokeStyle = "rgb(" + Math.round(c[0] * shade) + "," + Math.round(c[1] * shade) + "," +
                        Math.round(c[2] * shade) + ")";
      ctx.lineWidth = s[4];
      ctx.beginPath();
      ctx.moveTo(s[0][0], s[0][1]);
      ctx.lineTo(s[1][0], s[1][1]);
      ctx.stroke();
    });
  }
  var dragging = null;
  canvas.addEventListener("pointerdown", function (e) { dragging = [e.clientX, e.clientY]; canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener("pointerup", function () { dragging = null; });
  canvas.addEventListener("pointermove", function (e) {
    if (!dragging) return;
    var dx = e.clientX - dragging[0], dy = e.clientY - dragging[1];
    dragging = [e.clientX, e.clientY];
    rot = mul(mul(ry(dx * 0.01), rx(dy * 0.01)), rot);
    draw();
  });
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    zoom = Math.min(8, Math.max(0.2, zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1)));
    draw();
  }, { passive: false });
  document.querySelectorAll("input[data-fl-model]").forEach(function (box) {
    box.addEventListener("change", function () {
      visible[Number(box.getAttribute("data-fl-model"))] = box.checked;
      draw();
    });
  });
  draw();
  document.body.setAttribute("data-fl-viewer", "drawn");
})();
"""


def structure_payload(models: list[dict[str, Any]]) -> dict[str, Any]:
    """The viewer's data: per model, per chain, CA coordinates (0.01 Å) and pLDDT.

    Parameters
    ----------
    models : list of dict
        Each ``{"label": str, "width": float, "chains": [(name, ca (n, 3), plddt (n,))]}``.
    """
    out = []
    for model in models:
        chains = []
        for name, ca, plddt in model["chains"]:
            ca = np.asarray(ca, dtype=float)
            steps = np.linalg.norm(np.diff(ca, axis=0), axis=1) if len(ca) > 1 else np.zeros(0)
            chains.append(
                {
                    "name": name,
                    "ca": np.round(ca, 2).tolist(),
                    "plddt": np.round(np.asarray(plddt, dtype=float), 1).tolist(),
                    "breaks": [bool(s > MAX_CA_STEP) for s in steps],
                }
            )
        out.append({"label": model["label"], "width": model["width"], "chains": chains})
    return {"models": out}


def viewer_html(payload: dict[str, Any], width: int = 760, height: int = 520) -> str:
    """The viewer's HTML block: canvas, model toggles, legend, data and script."""
    toggles = "".join(
        f'<label><input type="checkbox" checked data-fl-model="{i}"> {m["label"]} '
        f"(line {m['width']:g} px)</label> "
        for i, m in enumerate(payload["models"])
    )
    legend = (
        '<span class="band" style="background:#0053d6"></span>&gt; 90 '
        '<span class="band" style="background:#65cbf3"></span>70–90 '
        '<span class="band" style="background:#ffdb13"></span>50–70 '
        '<span class="band" style="background:#ff7d45"></span>&lt; 50'
    )
    data = json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")
    return (
        f'<div class="viewer"><div>{toggles}</div>'
        f'<canvas id="fl-viewer" width="{width}" height="{height}" '
        'aria-label="CA traces of both models, superposed, coloured by pLDDT"></canvas>'
        f'<div class="legend">pLDDT: {legend} · drag to rotate, wheel to zoom</div></div>'
        f'<script type="application/json" id="fl-structure-data">{data}</script>'
        f"<script>{VIEWER_JS}</script>"
    )
