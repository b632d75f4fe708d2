// The report's 3-D view on 3Dmol.js: the models in #fl-viewer-data as cartoons,
// coloured by confidence (AlphaFold's four pLDDT bands) or by engine; the superposed
// model is a thin tube, so that the two stay told apart in confidence colours.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fl-viewer-data").textContent);
  var box = document.getElementById("fl-viewer");
  var status = document.getElementById("fl-viewer-status");
  var NO_CONFIDENCE = "#9aa0a6";
  function band(b) {
    return b > 90 ? "#0053d6" : b >= 70 ? "#65cbf3" : b >= 50 ? "#ffdb13" : "#ff7d45";
  }
  var viewer = null;
  try {
    viewer = $3Dmol.createViewer(box, { backgroundColor: "white", antialias: true });
  } catch (err) {
    viewer = null;
  }
  if (!viewer) {  // 3Dmol needs WebGL
    status.textContent = "This browser offers no WebGL: the 3-D view cannot be drawn. " +
      "The models are linked under Files.";
    return;
  }
  var models = data.models.map(function (m) { return viewer.addModel(m.text, m.format); });
  var shown = data.models.map(function () { return true; });
  var scheme = "confidence";

  function cartoon(m) {
    var look = m.style === "trace" ? { style: "trace", thickness: 0.35 } : { style: "oval" };
    if (scheme === "engine") look.color = m.colour;
    else if (m.confidence === "none") look.color = NO_CONFIDENCE;
    else look.colorfunc = function (atom) { return band(atom.b); };
    return look;
  }
  function draw() {
    data.models.forEach(function (m, i) {
      models[i].setStyle({}, shown[i] ? { cartoon: cartoon(m) } : {});
    });
    document.querySelectorAll("[data-fl-legend]").forEach(function (el) {
      el.hidden = el.getAttribute("data-fl-legend") !== scheme;
    });
    viewer.render();
  }
  models.forEach(function (model, i) {
    var m = data.models[i];
    model.setHoverable({}, true, function (atom, v) {
      if (atom.label) return;
      var what = m.confidence === "plddt" ? "pLDDT " : m.confidence === "none" ? "" : "score ";
      atom.label = v.addLabel(m.label + " · " + atom.chain + " " + atom.resn + " " + atom.resi +
        (m.confidence === "none" ? "" : " · " + what + atom.b.toFixed(1)),
        { position: atom, fontSize: 12, backgroundColor: "#1d2433", backgroundOpacity: 0.85,
          inFront: true });
    }, function (atom, v) {
      if (atom.label) { v.removeLabel(atom.label); delete atom.label; }
    });
  });
  document.querySelectorAll("input[name=fl-colour]").forEach(function (radio) {
    radio.addEventListener("change", function () { if (radio.checked) { scheme = radio.value; draw(); } });
  });
  document.querySelectorAll("input[data-fl-model]").forEach(function (box) {
    box.addEventListener("change", function () {
      shown[Number(box.getAttribute("data-fl-model"))] = box.checked;
      draw();
    });
  });
  document.getElementById("fl-viewer-reset").addEventListener("click", function () {
    viewer.zoomTo();
    viewer.render();
  });
  draw();
  viewer.zoomTo();
  viewer.render();
  document.body.setAttribute("data-fl-viewer", "drawn");
})();
