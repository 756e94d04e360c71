// The certificate template editor's live preview (certificates/admin_editor.html).
// While the coordinator types, and a moment after they stop, the source is sent to the
// editor's "check" address (same origin, the session cookie, the form's CSRF token).
// If it renders, the form's own Preview button is pressed, which loads the PDF into
// the preview frame exactly as it does without JavaScript; if not, the error and its
// line are shown next to the text area (an aria-live region) and the preview keeps
// the last wording that worked. Nothing is saved until "Save" is pressed.
(function () {
  "use strict";
  var form = document.querySelector("[data-certificate-editor]");
  if (!form || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var source = document.getElementById("certificate-source");
  var role = document.getElementById("certificate-role");
  var button = document.getElementById("certificate-preview-button");
  var live = document.getElementById("certificate-source-live");
  var checkUrl = form.getAttribute("data-check");
  var token = form.querySelector("input[name='_csrf_token']");
  var describedBy = source.getAttribute("aria-describedby") || "";
  var timer = null;
  var sent = 0; // answers to older requests are ignored
  var DELAY = 700;

  function showProblem(message, line) {
    live.textContent = "";
    var p = document.createElement("p");
    p.className = "field-error";
    p.id = "certificate-source-error";
    p.textContent = message;
    live.appendChild(p);
    if (line) {
      // A button, not a link: it moves the caret to the line in the text area.
      var go = document.createElement("button");
      go.type = "button";
      go.className = "button-secondary";
      go.textContent = form.getAttribute("data-go-to-line").replace("%(line)s", line);
      go.addEventListener("click", function () {
        selectLine(line);
      });
      p.appendChild(document.createTextNode(" "));
      p.appendChild(go);
    }
    source.setAttribute("aria-invalid", "true");
    if (describedBy.indexOf("certificate-source-error") < 0) {
      source.setAttribute("aria-describedby", (describedBy + " certificate-source-error").trim());
    }
  }

  function clearProblem() {
    live.textContent = "";
    source.removeAttribute("aria-invalid");
    source.setAttribute(
      "aria-describedby",
      describedBy.replace("certificate-source-error", "").trim()
    );
  }

  function selectLine(line) {
    var lines = source.value.split("\n");
    var start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i += 1) {
      start += lines[i].length + 1;
    }
    var end = start + (lines[line - 1] || "").length;
    source.focus();
    source.setSelectionRange(start, end);
  }

  function preview() {
    if (form.requestSubmit) {
      form.requestSubmit(button);
    } else {
      button.click();
    }
  }

  function check() {
    var mine = (sent += 1);
    var body = new URLSearchParams();
    body.append("_csrf_token", token ? token.value : "");
    body.append("source", source.value);
    fetch(checkUrl, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (response.status !== 200 && response.status !== 422) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (answer) {
        if (mine !== sent) {
          return;
        }
        if (answer.ok) {
          clearProblem();
          preview();
        } else {
          showProblem(answer.message, answer.line);
        }
      })
      .catch(function () {
        // Offline or signed out: the Preview and Save buttons still say what is wrong.
      });
  }

  source.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, DELAY);
  });
  if (role) {
    role.addEventListener("change", check);
  }
})();
