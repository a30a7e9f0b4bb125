/* The worklist refreshes itself every minute, but never while someone is typing or
   scanning: a scan is a burst of keys ending with Enter, and a reload in the middle of
   it would lose the scan. Without JavaScript the page is simply reloaded by hand. */
(function () {
  "use strict";
  var PERIOD = 60000;   // one minute
  var QUIET = 10000;    // no key pressed for this long before a reload
  var lastKey = 0;

  function busy() {
    var scan = document.getElementById("scan-anywhere");
    if (scan && scan.value !== "") { return true; }   // something typed, not yet sent
    if (Date.now() - lastKey < QUIET) { return true; }
    var active = document.activeElement;
    // A filter being chosen, or any other field the person is in (the scan box excepted).
    if (active && active !== scan && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) {
      return true;
    }
    return false;
  }

  function tick() {
    if (busy()) {
      window.setTimeout(tick, 5000);   // try again shortly
      return;
    }
    // The same list again (its sort and filter kept), without a message already shown.
    var url = new URL(window.location.href);
    ["msg", "sig", "scan"].forEach(function (name) { url.searchParams.delete(name); });
    window.location.replace(url.toString());
  }

  var note = document.querySelector(".refresh-note");
  if (note) { note.hidden = false; }   // true only now that this script runs
  document.addEventListener("keydown", function () { lastKey = Date.now(); }, true);
  window.setTimeout(tick, PERIOD);
}());
