// One Socket.IO 4 server of a cluster through @socket.io/redis-adapter:
// the peer of benches/cluster. Connections with ?role=sub join the room
// "room"; each "say" event of any connection is emitted to that room on
// every server of the cluster (the adapter publishes it through Redis).
//
//   node sio_node.js REDIS_PORT
//
// Prints "listening on 127.0.0.1:PORT" once it accepts connections.
const http = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

async function main() {
  const redisPort = Number(process.argv[2]);
  const pub = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const server = http.createServer();
  // Engine.IO pings far apart: the raw bench clients do not answer them.
  const io = new Server(server, {
    adapter: createAdapter(pub, sub),
    pingInterval: 600000,
    pingTimeout: 600000,
    transports: ["websocket"],
  });
  io.on("connection", (socket) => {
    if (socket.handshake.query.role === "sub") socket.join("room");
    socket.on("say", (data) => io.to("room").emit("m", data));
  });
  server.listen(0, "127.0.0.1", () => {
    console.log(`listening on 127.0.0.1:${server.address().port}`);
  });
  const stop = () => {
    io.close();
    Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
