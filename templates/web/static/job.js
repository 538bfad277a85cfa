// Live progress for a job page: server-sent events update the stage bars; when the job finishes the page reloads to
// show the video, the script and the provenance. No framework, no build step.
(function () {
  "use strict";
  var root = document.querySelector("[data-job]");
  if (!root) return;
  var id = root.getAttribute("data-job");
  var finished = ["done", "failed", "cancelled"];
  var cancel = document.getElementById("cancel");

  if (cancel) {
    cancel.addEventListener("click", function () {
      cancel.disabled = true;
      cancel.textContent = "Cancelling…";
      fetch("/api/jobs/" + id, { method: "DELETE", credentials: "same-origin" }).then(function (r) {
        if (!r.ok && r.status !== 409) { cancel.disabled = false; cancel.textContent = "Cancel"; }
      });
    });
  }
  if (finished.indexOf(root.getAttribute("data-state")) >= 0 || !window.EventSource) return;

  function label(s) {
    if (s.state === "done") {
      var text = s.hit ? "cached" : "done";
      return s.seconds != null ? text + " · " + Number(s.seconds).toFixed(1) + " s" : text;
    }
    if (s.state === "running") return s.message || "working";
    return "waiting";
  }

  function showStage(name, s) {
    var row = document.querySelector('[data-stage="' + name + '"]');
    if (!row) return;
    row.setAttribute("data-state", s.state);
    var bar = row.querySelector("progress");
    if (bar) bar.value = Math.max(0, Math.min(1, Number(s.fraction) || 0));
    var status = row.querySelector(".stage-status");
    if (status) status.textContent = label(s);
  }

  function showJob(job) {
    root.setAttribute("data-state", job.state);
    var badge = document.getElementById("job-state");
    if (badge) {
      badge.className = "badge " + job.state;
      badge.textContent = job.state + (job.state === "queued" && job.position ? " #" + job.position : "");
    }
    Object.keys(job.stages).forEach(function (name) { showStage(name, job.stages[name]); });
  }

  var events = new EventSource("/api/jobs/" + id + "/events");
  events.addEventListener("progress", function (e) {
    var d = JSON.parse(e.data);
    showStage(d.stage, d);
  });
  events.addEventListener("job", function (e) {
    var job = JSON.parse(e.data);
    showJob(job);
    if (finished.indexOf(job.state) >= 0) {
      events.close();
      window.setTimeout(function () { window.location.reload(); }, 300);
    }
  });
})();
