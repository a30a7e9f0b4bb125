// After the label's PDF is downloaded, the cursor goes back to the scan-back field, so the
// scanner's Enter confirms the label instead of downloading it again. The page already
// opens with the cursor there (autofocus); this only keeps it there after the click.
(function () {
  "use strict";
  var scan = document.getElementById("verify-scan");
  if (!scan) { return; }
  document.querySelectorAll("a.label-pdf").forEach(function (link) {
    link.addEventListener("click", function () {
      window.setTimeout(function () { scan.focus(); }, 0);
    });
  });
}());
