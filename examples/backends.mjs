// Three demo TCP backends on 127.0.0.1:9101–9103; each greets with its name, then echoes.
import * as net from "node:net";

for (const [i, port] of [9101, 9102, 9103].entries()) {
  const name = `backend-${i + 1}`;
  net
    .createServer((socket) => {
      socket.on("error", () => {});
      socket.write(`${name} (port ${port})\n`);
      socket.pipe(socket);
    })
    .listen(port, "127.0.0.1", () => console.log(`${name} listening on 127.0.0.1:${port}`));
}
