#!/usr/bin/env node
// The CLI is compiled from src/ by `npm run build` (run automatically by `npm ci` via "prepare").
import('../dist/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist')) {
    console.error('malt is not built yet: run `npm run build` (npm ci does this automatically).');
    process.exit(1);
  }
  throw err;
});
