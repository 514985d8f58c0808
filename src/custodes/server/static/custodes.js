// custodes: the little script the pages use. Nothing is sent anywhere; no third party is loaded.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A refusal or an error is read first: focus it.
  const note = document.querySelector(".note.bad");
  if (note) {
    note.setAttribute("tabindex", "-1");
    note.focus();
  }
});
