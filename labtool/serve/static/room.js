// The instructor's seat grid, refreshed every two seconds from the room's JSON (no page reload).
"use strict";
(function () {
  const grid = document.getElementById("grid");
  if (!grid) return;
  const room = grid.dataset.room;
  function text(machine) {
    return machine.state + (machine.working ? " (" + machine.working + ")" : "");
  }
  function points(seat) {
    return ["vm", "container"].filter((k) => seat[k].points)
      .map((k) => k + " " + seat[k].points.earned + "/" + seat[k].points.possible).join(" ");
  }
  function render(data) {
    document.getElementById("summary").textContent = data.summary;
    const busy = document.getElementById("busy");
    busy.hidden = !data.busy;
    busy.querySelector("span").textContent = data.busy || "";
    for (const seat of data.seats) {
      const row = document.getElementById("seat-" + seat.seat);
      if (!row) continue;
      row.querySelector(".student").textContent = seat.student || "-";
      for (const kind of ["vm", "container"]) {
        const cell = row.querySelector("td." + kind);
        cell.textContent = text(seat[kind]);
        cell.className = "machine " + kind + " state-" + seat[kind].state;
      }
      row.querySelector(".points").textContent = points(seat);
      row.querySelector(".drift").textContent = seat.drift === null ? "-" : String(seat.drift);
    }
    const jobs = document.getElementById("jobs");
    jobs.replaceChildren(...(data.jobs.length ? data.jobs : [null]).map((job) => {
      const item = document.createElement("li");
      if (job === null) { item.textContent = "none yet"; return item; }
      const link = document.createElement("a");
      link.href = "/jobs/" + job.id;
      link.textContent = job.command;
      item.append(link, ": " + job.state);
      return item;
    }));
  }
  async function refresh() {
    try {
      const answer = await fetch("/api/rooms/" + encodeURIComponent(room), { credentials: "same-origin" });
      if (answer.ok) render(await answer.json());
    } finally {
      setTimeout(refresh, 2000);
    }
  }
  setTimeout(refresh, 2000);
})();
