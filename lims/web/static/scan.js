/* The sound of a scan: one high beep when the scan was accepted, two low beeps when it
   was refused. The page itself says so in words (the server marks <body> with
   data-scan-result="ok" or "refused" and shows a green or red banner); this only adds
   the sound, made with the Web Audio API (no sound files). */
(function () {
  "use strict";
  var result = document.body && document.body.getAttribute("data-scan-result");
  if (result !== "ok" && result !== "refused") { return; }
  var Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) {
    document.body.setAttribute("data-scan-sound", "unsupported");
    return;
  }

  function beep(audio, start, frequency, length) {
    var tone = audio.createOscillator();
    var volume = audio.createGain();
    tone.type = "square";
    tone.frequency.value = frequency;
    volume.gain.setValueAtTime(0.0001, start);
    volume.gain.exponentialRampToValueAtTime(0.2, start + 0.01);
    volume.gain.setValueAtTime(0.2, start + length - 0.02);
    volume.gain.exponentialRampToValueAtTime(0.0001, start + length);
    tone.connect(volume);
    volume.connect(audio.destination);
    tone.start(start);
    tone.stop(start + length + 0.01);
  }

  function play(audio) {
    var now = audio.currentTime + 0.02;
    if (result === "ok") {
      beep(audio, now, 1760, 0.12);          // one high beep
    } else {
      beep(audio, now, 220, 0.25);           // two low beeps
      beep(audio, now + 0.35, 220, 0.25);
    }
    document.body.setAttribute("data-scan-sound", "played");
  }

  try {
    var audio = new Context();
    if (audio.state === "running") {
      play(audio);
    } else {
      // The browser may hold sound until the page is used; the banner has said it already.
      document.body.setAttribute("data-scan-sound", "waiting");
      audio.resume().then(function () {
        if (audio.state === "running") { play(audio); }
      }, function () { document.body.setAttribute("data-scan-sound", "blocked"); });
    }
  } catch (error) {
    document.body.setAttribute("data-scan-sound", "unsupported");
  }
}());
