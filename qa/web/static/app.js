// Citation markers live in the chat, their passages in the sources panel: one delegated listener
// (capture phase, so the chat's own link handling never runs) scrolls the passage into view.
document.addEventListener("click", function (event) {
  var link = event.target && event.target.closest ? event.target.closest("a.qa-cite") : null;
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  var id = (link.getAttribute("href") || "").replace(/^#/, "");
  var target = document.getElementById(id);
  if (!target) return;
  var folded = target.closest("details");
  if (folded) folded.open = true;
  document.querySelectorAll(".qa-src.qa-active").forEach(function (e) { e.classList.remove("qa-active"); });
  target.classList.add("qa-active");
  var box = target.closest(".qa-sources");
  if (box) {
    box.scrollTop += target.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
    box.scrollIntoView({block: "nearest"});
  } else {
    target.scrollIntoView({block: "nearest"});
  }
}, true);
// The question box follows what is typed: right to left for Arabic, left to right for Latin text.
document.addEventListener("input", function (event) {
  var box = event.target;
  if (box && box.closest && box.closest("#qa-question")) box.dir = box.value.trim() ? "auto" : "rtl";
}, true);
