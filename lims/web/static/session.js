// A warning before the session ends without activity, with a button that keeps it going.
// The page says how long its session lasts (data-session-seconds on <body>, counted from
// when the page arrived, so the computer's clock does not matter) and when it ends
// (data-session-ends, the site's time). Two minutes before the end (half a shorter
// session), the hidden banner says so; "Stay signed in" renews the session without
// leaving the page. Before warning, the page asks the server how long is left (another
// tab may have renewed the session; asking renews nothing). The cursor never moves: a
// scan's Enter still goes where it was. Without this script the footer still says when
// the session ends, and a form sent after the end keeps what was typed (the server does).
(function () {
  "use strict";
  var body = document.body;
  var banner = document.getElementById("session-warning");
  var text = document.getElementById("session-warning-text");
  var form = document.getElementById("session-renew");
  var seconds = parseInt(body.getAttribute("data-session-seconds") || "", 10);
  if (!banner || !text || !form || isNaN(seconds)) {
    return;
  }
  var endAt = Date.now() + seconds * 1000;
  var ends = body.getAttribute("data-session-ends") || "";
  var lead = Math.min(120, seconds / 2) * 1000;
  var timer = null;

  function later(callback, delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(callback, Math.max(1000, delay));
  }

  function showEnds() {
    var spans = document.querySelectorAll(".session-ends");
    for (var i = 0; i < spans.length; i += 1) {
      spans[i].textContent = ends;
    }
  }

  function tick() {
    var left = endAt - Date.now();
    if (left > lead) {
      banner.hidden = true;
      later(refresh, left - lead);
    } else if (left > 0) {
      banner.hidden = false;
      form.hidden = false;
      text.textContent = "Your session ends at " + ends + " without activity.";
      later(refresh, left);
    } else {
      ended();
    }
  }

  function ended() {
    window.clearTimeout(timer);
    if (form.hidden && !banner.hidden) {
      return;  // already said
    }
    banner.hidden = false;
    form.hidden = true;
    text.textContent = "Your session ended at " + ends + ". Sign in again to go on; what " +
      "you typed in a step or QC form is kept when you press Check or Save.";
    var link = document.createElement("a");
    link.href = "/login?expired=1&next=" + encodeURIComponent(window.location.pathname);
    link.textContent = "Sign in again";
    text.appendChild(document.createTextNode(" "));
    text.appendChild(link);
  }

  function update(data) {
    if (!data || typeof data.seconds !== "number") {
      return false;
    }
    endAt = Date.now() + data.seconds * 1000;
    ends = String(data.ends || ends);
    showEnds();
    return data.seconds > 0;
  }

  function asJson(response) {
    var type = response.headers.get("content-type") || "";
    return response.ok && type.indexOf("application/json") === 0 ? response.json() : null;
  }

  function refresh() {
    window.fetch("/session/status", {
      credentials: "same-origin", headers: {Accept: "application/json"}
    }).then(asJson).then(function (data) {
      update(data);  // no answer: go by what the page knew
      tick();
    }).catch(tick);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    window.fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: {Accept: "application/json"}
    }).then(asJson).then(function (data) {
      if (update(data)) {
        tick();
      } else {
        ended();
      }
    }).catch(ended);
  });

  tick();
}());
