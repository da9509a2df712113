#!/usr/bin/env node
// Compiles the test contracts with the solc-js package pinned in package.json and writes
// tests/contracts/artifacts/<Name>.json = {contractName, abi, bytecode, compiler}; then, the
// same way, every benchmarks/contracts/*.sol into benchmarks/contracts/artifacts/<Name>.json
// (one contract per file, named like the file). Each directory is its own compilation, so the
// test artifacts do not depend on the benchmark sources.
// Output is deterministic: rebuilding unchanged sources gives byte-identical artifacts.
// Usage: npm run build:contracts   (or: node tests/contracts/build.mjs)

import { createRequire } from "node:module";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const EXPECTED_VERSION = "0.8.37";
const CONTRACTS = ["MockAggregator", "MockFeedProxy", "OftAdapterLike", "OftMinterLike", "OftTokenLike",
                   "PaxgLike", "PaxgV2Like", "XautLike", "ZosProxy"];

const here = dirname(fileURLToPath(import.meta.url));
const fullVersion = solc.version(); // e.g. "0.8.37+commit.xxxxxxxx.Emscripten.clang"
const version = fullVersion.split("+")[0];
if (version !== EXPECTED_VERSION) {
  console.error(`solc ${fullVersion} found, ${EXPECTED_VERSION} expected (run npm ci)`);
  process.exit(1);
}

function build(dir, names) {
  const outDir = join(dir, "artifacts");
  const sources = {};
  for (const name of names) {
    // Source unit names are bare file names so the metadata hash does not depend on the checkout path.
    sources[`${name}.sol`] = { content: readFileSync(join(dir, `${name}.sol`), "utf8") };
  }

  const input = {
    language: "Solidity",
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };

  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const messages = output.errors ?? [];
  for (const m of messages) {
    console.error(m.formattedMessage ?? m.message);
  }
  if (messages.some((m) => m.severity === "error")) {
    process.exit(1);
  }

  mkdirSync(outDir, { recursive: true });
  for (const name of names) {
    const compiled = output.contracts?.[`${name}.sol`]?.[name];
    if (!compiled || !compiled.evm?.bytecode?.object) {
      console.error(`no bytecode for ${name}`);
      process.exit(1);
    }
    const artifact = {
      contractName: name,
      abi: compiled.abi,
      bytecode: "0x" + compiled.evm.bytecode.object,
      compiler: `solc ${version}`,
    };
    const file = join(outDir, `${name}.json`);
    writeFileSync(file, JSON.stringify(artifact, null, 2) + "\n");
    console.log(`wrote ${file} (${(artifact.bytecode.length - 2) / 2} bytes of bytecode)`);
  }
}

build(here, CONTRACTS);

const benchDir = join(here, "..", "..", "benchmarks", "contracts");
if (existsSync(benchDir)) {
  const benchContracts = readdirSync(benchDir)
    .filter((f) => f.endsWith(".sol"))
    .map((f) => f.slice(0, -".sol".length))
    .sort();
  if (benchContracts.length > 0) {
    build(benchDir, benchContracts);
  }
}
