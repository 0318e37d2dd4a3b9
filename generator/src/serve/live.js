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
  // Warnings do not stop anything: a strip at the bottom that the editor can close.
  var strip = null;
  // Closing survives the reload after each save, until the warnings change.
  var dismissed = "";
  try {
    dismissed = window.sessionStorage.getItem("sportello-warnings-closed") || "";
  } catch (e) {}
  function showWarnings(text) {
    if (!text || text === dismissed) {
      if (strip) strip.hidden = !text || text === dismissed;
      return;
    }
    if (!strip) {
      strip = document.createElement("section");
      strip.id = "sportello-warnings";
      strip.setAttribute("aria-label", "Avvisi sul contenuto");
      strip.style.cssText =
        "position:fixed;left:0;right:0;bottom:0;z-index:2147483646;max-height:40vh;overflow:auto;" +
        "background:#fff8e1;color:#1a1a1a;border-top:3px solid #8a6d00;padding:.75rem 1rem;" +
        "font:14px/1.4 ui-monospace,monospace";
      var close = document.createElement("button");
      close.type = "button";
      close.textContent = "Chiudi gli avvisi";
      close.style.cssText = "float:right;font:bold 15px system-ui,sans-serif;padding:.3rem .7rem";
      close.addEventListener("click", function () {
        dismissed = strip.querySelector("pre").textContent;
        try {
          window.sessionStorage.setItem("sportello-warnings-closed", dismissed);
        } catch (e) {}
        strip.hidden = true;
      });
      var h = document.createElement("h2");
      h.textContent = "Avvisi (la guida si costruisce lo stesso)";
      h.style.cssText = "font:bold 16px system-ui,sans-serif;margin:0 0 .5rem";
      var pre = document.createElement("pre");
      pre.style.cssText = "white-space:pre-wrap;margin:0";
      strip.appendChild(close);
      strip.appendChild(h);
      strip.appendChild(pre);
      document.body.appendChild(strip);
    }
    strip.querySelector("pre").textContent = text;
    strip.hidden = false;
  }
  var source = new EventSource("/__sportello/events");
  source.addEventListener("warnings", function (e) {
    showWarnings(e.data);
  });
  source.addEventListener("reload", function () {
    window.location.reload();
  });
  source.addEventListener("errors", function (e) {
    showErrors(e.data);
  });
})();
