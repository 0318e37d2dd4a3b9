// Injected by `sportello serve` only: reloads the page after each rebuild and
// shows content errors over the page, with the same text as the terminal.
(function () {
  "use strict";
  var overlay = null;
  function showErrors(text) {
    if (!overlay) {
      overlay = document.createElement("div");
      overlay.setAttribute("role", "alert");
      overlay.id = "sportello-errors";
      overlay.style.cssText =
        "position:fixed;inset:0;z-index:2147483647;overflow:auto;background:rgba(20,20,20,.94);" +
        "color:#fff;padding:1.5rem;font:15px/1.45 ui-monospace,monospace";
      var h = document.createElement("h2");
      h.textContent = "Errori nel contenuto: la pagina mostra l'ultima versione valida";
      h.style.cssText = "font:bold 18px system-ui,sans-serif;margin:0 0 1rem;color:#ffbf47";
      var pre = document.createElement("pre");
      pre.style.cssText = "white-space:pre-wrap;margin:0";
      overlay.appendChild(h);
      overlay.appendChild(pre);
      document.body.appendChild(overlay);
    }
    overlay.querySelector("pre").textContent = text;
  }
  var source = new EventSource("/__sportello/events");
  source.addEventListener("reload", function () {
    window.location.reload();
  });
  source.addEventListener("errors", function (e) {
    showErrors(e.data);
  });
})();
