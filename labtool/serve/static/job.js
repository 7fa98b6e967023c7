// A job's state and log, refreshed until it ends.
"use strict";
(function () {
  const state = document.getElementById("job-state");
  if (!state) return;
  async function refresh() {
    const answer = await fetch("/api/jobs/" + encodeURIComponent(state.dataset.job), { credentials: "same-origin" });
    if (!answer.ok) return;
    const job = await answer.json();
    state.textContent = job.state;
    document.getElementById("job-seconds").textContent = job.seconds;
    const log = document.getElementById("job-log");
    log.textContent = job.log;
    log.scrollTop = log.scrollHeight;
    if (job.state === "running") setTimeout(refresh, 1000);
    else if (job.action === "rotate") location.reload();  // the page shows the new password once it exists
  }
  if (state.textContent === "running") setTimeout(refresh, 1000);
})();
