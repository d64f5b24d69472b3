// motcua: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Filter a long list of procedures as the clerk types (receive flow, step 1).
  var filter = document.querySelector("[data-filter-list]");
  if (filter) {
    var items = document.querySelectorAll(filter.getAttribute("data-filter-list"));
    var fold = function (s) {
      return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "d").toLowerCase();
    };
    filter.addEventListener("input", function () {
      var q = fold(filter.value.trim());
      items.forEach(function (el) { el.hidden = q && fold(el.textContent).indexOf(q) < 0; });
    });
  }
  // "Sync now" progress: poll the JSON endpoint while a sync runs, then reload once.
  var box = document.querySelector("[data-sync-progress]");
  if (box && box.getAttribute("data-running") === "1") {
    var url = box.getAttribute("data-sync-progress");
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-sync-text]");
    var tick = function () {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
        var total = s.events_out + s.remaining;
        if (bar) { bar.max = total || 1; bar.value = s.running ? s.events_out : (total || 1); }
        if (text) { text.textContent = s.events_out + " / " + total; }
        if (s.running) { setTimeout(tick, 400); } else { window.location.reload(); }
      }).catch(function () { setTimeout(tick, 1500); });
    };
    setTimeout(tick, 300);
  }
  // Next step: the reason becomes required for refusal/supplement/withdrawal/stop and the
  // confirmation box shows (and becomes required) for a step that cannot be undone.
  var step = document.querySelector("[data-step-select]");
  if (step) {
    var form = step.form;
    var reason = form.querySelector("[name=reason]");
    var confirmBox = form.querySelector("[data-step-confirm]");
    var sync = function () {
      var opt = step.options[step.selectedIndex];
      var needsReason = !!(opt && opt.hasAttribute("data-needs-reason"));
      var needsConfirm = !!(opt && opt.hasAttribute("data-needs-confirm"));
      if (reason) { reason.required = needsReason; }
      if (confirmBox) {
        confirmBox.required = needsConfirm;
        confirmBox.closest("label").hidden = !needsConfirm;
        if (!needsConfirm) { confirmBox.checked = false; }
      }
    };
    step.addEventListener("change", sync);
    sync();
  }
  // Keyboard: Alt+N starts a new intake, Alt+S focuses search, where those links exist.
  document.addEventListener("keydown", function (e) {
    if (!e.altKey) { return; }
    var key = e.key.toLowerCase();
    var target = document.querySelector('[data-hotkey="' + key + '"]');
    if (target) { e.preventDefault(); if (target.tagName === "A") { target.click(); } else { target.focus(); } }
  });
  // Attaching a scan: show the upload's progress (a 2 MB photo takes a while on a weak link), then
  // show the page the server answers; if the request itself fails, the plain form submits.
  var attach = document.querySelector("[data-attach-form]");
  if (attach && window.FormData && window.XMLHttpRequest) {
    attach.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var meter = attach.querySelector("[data-upload-progress]");
      var button = attach.querySelector("button[type=submit]");
      if (meter) { meter.hidden = false; meter.value = 0; }
      if (button) { button.disabled = true; }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", attach.action);
      xhr.upload.onprogress = function (e) {
        if (meter && e.lengthComputable) { meter.max = e.total; meter.value = e.loaded; }
      };
      xhr.onload = function () {
        if (xhr.responseURL) { history.replaceState(null, "", xhr.responseURL); }
        document.open();
        document.write(xhr.responseText);
        document.close();
      };
      xhr.onerror = function () { attach.submit(); };
      xhr.send(new FormData(attach));
    });
  }
})();
