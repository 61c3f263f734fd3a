/* Wallboard: the Full screen button (Fullscreen API) on the board's container; in full screen the page takes the
   big-type layout too. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("wallboard-fullscreen");
    var board = document.getElementById("wallboard");
    if (!button || !board) return;
    if (!document.fullscreenEnabled) { button.hidden = true; return; }
    button.addEventListener("click", function () {
      if (document.fullscreenElement) document.exitFullscreen();
      else board.requestFullscreen();
    });
    document.addEventListener("fullscreenchange", function () {
      board.classList.toggle("fullscreen", document.fullscreenElement === board);
    });
  });
})();
