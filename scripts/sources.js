#!/usr/bin/env node
// Prints a section of native/sources.txt for binding.gyp: `node scripts/sources.js core addon`.
'use strict';
const fs = require('fs');
const path = require('path');

function readSources(sections) {
  const text = fs.readFileSync(path.join(__dirname, '..', 'native', 'sources.txt'), 'utf8');
  const out = [];
  let current = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) current = header[1];
    else if (sections.includes(current)) out.push(line);
  }
  return out;
}

module.exports = { readSources };
if (require.main === module) {
  process.stdout.write(readSources(process.argv.slice(2)).join(' ') + '\n');
}
