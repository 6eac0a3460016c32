// Small behaviours for the portal and the admin header; no inline scripts, so the
// Content-Security-Policy can forbid them.
document.addEventListener("change", function (event) {
  if (event.target.matches("select[data-autosubmit]")) {
    event.target.form.submit();
  }
});

// "Select all" boxes: <input type="checkbox" data-check-all="name-of-the-boxes">
document.addEventListener("change", function (event) {
  var name = event.target.getAttribute("data-check-all");
  if (!name) return;
  document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
    box.checked = event.target.checked;
  });
});
