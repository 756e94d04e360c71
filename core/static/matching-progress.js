// Moves the progress bar of work a job does: a matching run (matching/run.html) or a
// batch of certificates (certificates/admin_batch.html); both answer the same JSON.
// Polls the run's JSON (same origin, the session cookie) every second; updates the
// <progress> value and the stage text, which an aria-live region announces; reloads
// the page once the run is done or failed, so that the server renders the result.
// Without JavaScript the page's <noscript> meta refresh does the same, less smoothly.
(function () {
  "use strict";
  var box = document.querySelector("[data-run-api]");
  if (!box || !window.fetch) {
    return;
  }
  var api = box.getAttribute("data-run-api");
  var bar = document.getElementById("run-progress");
  var stage = document.getElementById("run-stage");
  var percent = document.getElementById("run-percent");
  var format = new Intl.NumberFormat(document.documentElement.lang || undefined, {
    style: "percent",
    maximumFractionDigits: 0,
  });
  var lastStage = stage ? stage.textContent : "";
  var failures = 0;

  function poll() {
    fetch(api, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (run) {
        failures = 0;
        if (run.status === "done" || run.status === "failed") {
          window.location.reload();
          return;
        }
        if (bar) {
          bar.value = run.progress;
          bar.textContent = format.format(run.progress);
        }
        if (percent) {
          percent.textContent = format.format(run.progress);
        }
        // Only a new stage is worth announcing; the percentage changes too often.
        if (stage && run.stage && run.stage !== lastStage) {
          stage.textContent = run.stage;
          lastStage = run.stage;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () {
        failures += 1;
        window.setTimeout(poll, Math.min(30000, 1000 * Math.pow(2, failures)));
      });
  }

  window.setTimeout(poll, 1000);
})();
