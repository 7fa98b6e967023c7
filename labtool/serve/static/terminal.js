// A terminal on one machine of the student's seat: xterm.js over a websocket to the server's SSH session.
// Browser to server: "i" + keystrokes, "r" + {"cols", "rows"}; server to browser: the machine's output, binary.
"use strict";
(function () {
  const box = document.getElementById("terminal");
  if (!box) return;
  const term = new Terminal({ cursorBlink: true, fontSize: 15, scrollback: 5000 });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + box.dataset.socket);
  socket.binaryType = "arraybuffer";
  const size = () => "r" + JSON.stringify({ cols: term.cols, rows: term.rows });
  socket.onopen = () => { socket.send(size()); term.focus(); };
  socket.onmessage = (event) => term.write(new Uint8Array(event.data));
  socket.onclose = () => term.write("\r\n[connection closed]\r\n");
  term.onData((data) => { if (socket.readyState === WebSocket.OPEN) socket.send("i" + data); });
  term.onResize(() => { if (socket.readyState === WebSocket.OPEN) socket.send(size()); });
  window.addEventListener("resize", () => fit.fit());
  window.labtoolTerminal = term;  // for tests that read the screen
})();
