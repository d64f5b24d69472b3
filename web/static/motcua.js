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
  // USB bundles (web/usb.py): send the same forms with XMLHttpRequest to show a progress bar
  // while the bundle uploads or downloads; the download is saved through a temporary link.
  var usb = document.querySelector("[data-usb]");
  if (usb && window.XMLHttpRequest && window.FormData && window.Blob && window.URL) {
    var meter = usb.querySelector("[data-usb-progress]");
    var status = usb.querySelector("[data-usb-status]");
    var show = function (e) {
      meter.hidden = false;
      if (e.lengthComputable) { meter.max = e.total; meter.value = e.loaded; } else { meter.removeAttribute("value"); }
    };
    var fail = function (xhr) {
      var text = xhr.statusText;
      try { var err = JSON.parse(xhr.responseText).error; text = err.reason + " (" + err.code + ")"; } catch (ignored) { }
      meter.hidden = true; status.textContent = text; status.className = "err";
    };
    var save = function (blob, name) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob); a.download = name;
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
    };
    var send = function (form, binary, done) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.responseType = binary ? "blob" : "text";
      xhr.upload.onprogress = show; xhr.onprogress = show;
      xhr.onload = function () {
        if (xhr.status !== 200) {
          if (binary) { xhr.response.text().then(function (t) { fail({ statusText: xhr.statusText, responseText: t }); }); }
          else { fail(xhr); }
          return;
        }
        done(xhr);
      };
      xhr.onerror = function () { fail(xhr); };
      status.textContent = ""; status.className = "small";
      xhr.send(new FormData(form));
    };
    usb.querySelector("[data-usb-export]").addEventListener("submit", function (e) {
      e.preventDefault();
      send(e.target, true, function (xhr) {
        var name = (/filename="([^"]+)"/.exec(xhr.getResponseHeader("Content-Disposition") || "") || [])[1];
        save(xhr.response, name || "motcua.bundle");
        status.textContent = "\u2713 " + (xhr.getResponseHeader("X-Motcua-Events") || "0");
      });
    });
    usb.querySelector("[data-usb-import]").addEventListener("submit", function (e) {
      e.preventDefault();
      send(e.target, false, function (xhr) {
        var r = JSON.parse(xhr.responseText);
        status.textContent = "\u2713 " + r.sender + ": +" + r.events;
        if (r.ack) { window.location.href = r.ack; }
      });
    });
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
