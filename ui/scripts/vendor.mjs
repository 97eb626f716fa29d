// Copies the ES modules the page imports from npm packages into
// <dest>/vendor (the page has no bundler): `node scripts/vendor.mjs public/js`.
import { cpSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";

const dest = process.argv[2];
if (!dest) {
  console.error("usage: node scripts/vendor.mjs DEST");
  process.exit(2);
}
const from = join("node_modules", "@fluent", "bundle", "esm");
const to = join(dest, "vendor", "fluent-bundle");
mkdirSync(to, { recursive: true });
for (const name of readdirSync(from)) {
  if (name.endsWith(".js") || name === "package.json") cpSync(join(from, name), join(to, name));
}
