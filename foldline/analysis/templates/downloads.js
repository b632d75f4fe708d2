// The Files table's links download from the page itself (#fl-files): a plot from the
// data URI its <img> shows, any other file from its gzip-compressed base64 copy, as a
// Blob saved under the file's name. So the links work from a presigned S3 link or a
// downloaded copy of the page, where no file sits beside it; the relative href is the
// fallback only without JavaScript.
(function () {
  "use strict";
  var files = JSON.parse(document.getElementById("fl-files").textContent);
  var status = document.getElementById("fl-download-status");

  function bytesOf(base64) {
    var text = atob(base64);
    var out = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  function blobOf(entry) {
    if (entry.image) {
      var src = document.getElementById(entry.image).getAttribute("src");
      return Promise.resolve(new Blob([bytesOf(src.slice(src.indexOf(",") + 1))], { type: entry.type }));
    }
    if (typeof DecompressionStream === "undefined") {
      return Promise.reject(new Error("this browser cannot unpack the page's copy (no DecompressionStream)"));
    }
    var stream = new Blob([bytesOf(entry.gzip)]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).blob().then(function (blob) {
      return new Blob([blob], { type: entry.type });
    });
  }

  function save(name, blob) {
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }

  document.querySelectorAll("a[data-fl-file]").forEach(function (anchor) {
    anchor.addEventListener("click", function (event) {
      var name = anchor.getAttribute("data-fl-file");
      var entry = files[name];
      if (!entry) return;  // not carried: the relative link, beside the page
      event.preventDefault();
      blobOf(entry).then(function (blob) { save(name, blob); }, function (err) {
        status.textContent = name + ": " + err.message + "; the file is in the report folder.";
      });
    });
  });
})();
