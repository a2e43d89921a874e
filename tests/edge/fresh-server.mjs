// The `fresh` handler's JSON source for the tests: any path answers the same document, with the
// `path` query parameter echoed (sitegen's fresh_source puts the page's path there).
//
// Usage: node fresh-server.mjs PORT
import { createServer } from "node:http";

const port = Number(process.argv[2]);
createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  const body = JSON.stringify({
    price: "4.20 € & up",
    stock: { count: 7 },
    path: url.searchParams.get("path") ?? "",
  });
  res.writeHead(200, { "content-type": "application/json" });
  res.end(body);
}).listen(port, "127.0.0.1", () => console.log(`fresh source on http://127.0.0.1:${port}/`));
