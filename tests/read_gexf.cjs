// Read GEXF files with graphology-gexf (Gephi Lite's parser); print what it found as JSON.
// Usage: node tests/read_gexf.cjs FILE...
"use strict";
const fs = require("fs");
const Graph = require("graphology");
const gexf = require("graphology-gexf");

const result = {};
for (const path of process.argv.slice(2)) {
  const graph = gexf.parse(Graph, fs.readFileSync(path, "utf-8"));
  const first = graph.nodes()[0];
  result[path] = {
    nodes: graph.order,
    edges: graph.size,
    undirected: graph.undirectedSize,
    firstNode: first === undefined ? null : { key: first, ...graph.getNodeAttributes(first) },
  };
}
process.stdout.write(JSON.stringify(result));
